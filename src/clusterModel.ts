/*
 * The cluster model (GET clusters, cluster events), generated from
 * schema/model/cluster.yaml by `jlpm build:model`
 * (scripts/generate_model_types.py). Do not edit here: change the schema and
 * run it again.
 */
import type { IScaling } from './types';

/**
 * The plain fields of a cluster (all but its rows of workers and jobs); a
 * `changed` event's `fields` holds those that changed.
 */
export interface IClusterFields {
  id?: string;
  name?: string;
  /** The backend's name (`local`, `slurm`, ...). */
  backend?: string;
  /** The profile it was launched from; null for a bare backend. */
  profile?: string | null;
  state?: ClusterState;
  /**
   * The step a `starting` cluster is at, in words ("scheduler up, waiting for
   * workers"); null in other states. A cluster that asks for workers is
   * `starting` until its first worker joins.
   */
  phase?: string | null;
  /**
   * Why it failed (state `failed`): for a batch cluster whose jobs all ended
   * before their workers joined, the last error line of a job's log.
   */
  error?: string | null;
  scheduler_address?: string | null;
  /** Direct dashboard URL (may be unreachable from the browser). */
  dashboard_link?: string | null;
  /** Dashboard proxied through the Jupyter server, a path under base_url. */
  dashboard_url?: string | null;
  scaling?: IScaling;
  /**
   * What the resource manager said while starting (e.g. Saturn's status and
   * warnings), and notices while running (a job that ended, a notebook with
   * other versions).
   */
  messages?: string[];
  /** When it was launched (or found), an ISO 8601 date. */
  created?: string;
  /** The kernel whose Python the cluster runs; null for the server's. */
  kernel?: string | null;
  /** Versions of python, dask, distributed, ... the cluster runs. */
  versions?: Record<string, string>;
  /**
   * Started outside this Jupyter server (a Dask Gateway cluster made in a
   * notebook, or left by an earlier server): stopping the server leaves it
   * running.
   */
  external?: boolean;
  /**
   * What a batch cluster used so far: live while it runs (allocated cores x
   * elapsed time per job), exact from the batch system's accounting once its
   * jobs ended; published when it changed visibly, at most every 10 s. Null for
   * clusters without batch jobs.
   */
  usage?: IUsage | null;
  /**
   * The batch job the scheduler runs in, when it runs in a job of its own (form
   * field "Scheduler runs"); that job is among `jobs`, with its time left: the
   * cluster ends with it. Null when the scheduler runs beside Jupyter or
   * elsewhere.
   */
  scheduler_job?: string | null;
}

export interface IUsage {
  core_hours: number;
  gpu_hours: number;
  /** The cluster stopped and every job is accounted as ended. */
  final: boolean;
  /**
   * The most its jobs can use in one walltime at its current size (jobs x cores
   * x walltime, the launch summary's "up to"; jobs that replace ended ones add
   * to it); null where unknown.
   */
  most_core_hours: number | null;
  /**
   * The site's warning threshold for this backend (`usage_warning_core_hours`);
   * null when none is set.
   */
  warning_core_hours: number | null;
}

export type ClusterState =
  'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface IWorker {
  name: string;
  address: string;
  host: string;
  nthreads: number;
  /** Bytes. */
  memory_limit: number;
  status: string;
  /** The batch job it runs in (batch backends). */
  job_id: string | null;
}

/** A batch job of the cluster's. */
export interface IJob {
  job_id: string;
  /**
   * The batch system's state (`PENDING`, `RUNNING`, ...). A job that ended
   * before its worker joined stays listed with its final state (`FAILED`,
   * `COMPLETED`, ...), or `ENDED` when the batch system no longer says.
   */
  state: string;
  /** Why it waits or failed, as the batch system says. */
  reason: string | null;
  /** The node it runs on. */
  host?: string | null;
  /**
   * Seconds a running job has left (whole minutes); null when unknown or
   * unlimited.
   */
  time_left?: number | null;
  /**
   * When a pending job may start, as the batch system estimates it (ISO 8601,
   * e.g. `2026-12-07T14:05:00+00:00`); null when it gives none (Grid Engine
   * never does, SLURM once its backfill scheduler has looked at the job).
   */
  estimated_start?: string | null;
  /** The exit code of a job that ended, where the batch system says it. */
  exit_code?: number | null;
  /**
   * For a job that ended before its worker joined: the last error line of its
   * log (e.g. `ValueError: 'ib0' is not a valid network interface`).
   */
  error?: string | null;
  /**
   * Why the job ended, from the batch system's accounting (`sacct`, `qacct`);
   * null while it runs, and where the accounting does not say (no accounting,
   * LSF, HTCondor).
   */
  end?: IJobEnd | null;
}

/** How a batch job ended, as its batch system's accounting tells it. */
export interface IJobEnd {
  /**
   * `COMPLETED`, `TIMEOUT`, `OUT_OF_MEMORY`, `NODE_FAIL`, `CANCELLED`,
   * `FAILED`, `PREEMPTED`, ... (SLURM's words; Grid Engine's records are mapped
   * onto them).
   */
  state: string;
  /**
   * In words, e.g. "reached its walltime (00:01:00)", "killed for memory (1
   * GiB)", "exited with code 3".
   */
  reason: string | null;
  exit_code: number | null;
  /** When it ended, ISO 8601 with the offset. */
  ended_at: string | null;
}

export interface ICluster {
  id: string;
  name: string;
  /** The backend's name (`local`, `slurm`, ...). */
  backend: string;
  /** The profile it was launched from; null for a bare backend. */
  profile: string | null;
  state: ClusterState;
  /**
   * The step a `starting` cluster is at, in words ("scheduler up, waiting for
   * workers"); null in other states. A cluster that asks for workers is
   * `starting` until its first worker joins.
   */
  phase?: string | null;
  /**
   * Why it failed (state `failed`): for a batch cluster whose jobs all ended
   * before their workers joined, the last error line of a job's log.
   */
  error: string | null;
  scheduler_address: string | null;
  /** Direct dashboard URL (may be unreachable from the browser). */
  dashboard_link: string | null;
  /** Dashboard proxied through the Jupyter server, a path under base_url. */
  dashboard_url: string | null;
  scaling: IScaling;
  /**
   * What the resource manager said while starting (e.g. Saturn's status and
   * warnings), and notices while running (a job that ended, a notebook with
   * other versions).
   */
  messages?: string[];
  /** When it was launched (or found), an ISO 8601 date. */
  created: string;
  /** The kernel whose Python the cluster runs; null for the server's. */
  kernel?: string | null;
  /** Versions of python, dask, distributed, ... the cluster runs. */
  versions?: Record<string, string>;
  /**
   * Started outside this Jupyter server (a Dask Gateway cluster made in a
   * notebook, or left by an earlier server): stopping the server leaves it
   * running.
   */
  external?: boolean;
  /**
   * What a batch cluster used so far: live while it runs (allocated cores x
   * elapsed time per job), exact from the batch system's accounting once its
   * jobs ended; published when it changed visibly, at most every 10 s. Null for
   * clusters without batch jobs.
   */
  usage?: IUsage | null;
  /**
   * The batch job the scheduler runs in, when it runs in a job of its own (form
   * field "Scheduler runs"); that job is among `jobs`, with its time left: the
   * cluster ends with it. Null when the scheduler runs beside Jupyter or
   * elsewhere.
   */
  scheduler_job?: string | null;
  /** The scheduler's workers, keyed by `name` in patches. */
  workers: IWorker[];
  /**
   * The cluster's batch jobs (batch backends), keyed by `job_id` in patches.
   */
  jobs: IJob[];
}
