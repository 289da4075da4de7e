/**
 * Types of the server extension's REST API and events (the contract with
 * dask_cluster_launcher/handlers.py). The cluster model's types are generated
 * from schema/model/cluster.yaml into clusterModel.ts (`jlpm build:model`).
 */

import type { ICluster, IClusterFields, IJob, IWorker } from './clusterModel';

export type {
  ClusterState,
  ICluster,
  IClusterFields,
  IJob,
  IWorker
} from './clusterModel';

export interface IAdapt {
  minimum: number;
  maximum: number;
}

export type IScaling = { workers: number } | { adapt: IAdapt };

/** One output file of a batch job (`GET clusters/{id}/jobs/{job_id}/log`). */
export interface IJobLogFile {
  path: string;
  /** The file's last 64 KiB; null while the file does not exist yet. */
  text: string | null;
}

export interface IJobLog {
  job_id: string;
  files: IJobLogFile[];
}

export interface IBackend {
  name: string;
  title: string;
  available: boolean;
  reason: string | null;
  schema: Record<string, any>;
  ui_schema: Record<string, any>;
  defaults: Record<string, any>;
  /**
   * Its clusters run in a host process of the launcher's, which can run a
   * kernel's Python (`ILaunchRequest.kernel`).
   */
  hosted?: boolean;
}

export type ProfileSource = 'builtin' | 'site' | 'user';

export interface IProfile {
  name: string;
  title: string;
  description: string;
  backend: string;
  options: Record<string, any>;
  scaling: IScaling | null;
  source: ProfileSource;
  error: string | null;
  /** The profile the server preselects (`ClusterLauncherApp.default_profile`). */
  default?: boolean;
}

/** Body of `POST profiles` and `PUT profiles/{name}` (schema/profile.yaml). */
export interface IProfileRequest {
  name: string;
  title?: string;
  description?: string | null;
  backend: string;
  options: Record<string, any>;
  scaling: IScaling;
}

export interface ILaunchRequest {
  backend?: string;
  profile?: string;
  name?: string;
  options: Record<string, any>;
  scaling: IScaling;
  /** A kernelspec name: the cluster runs that kernel's Python. */
  kernel?: string;
}

export interface IPreviewRequest {
  backend: string;
  options: Record<string, any>;
  /** Shown as `cluster.scale(n)` / `cluster.adapt(...)` in the code. */
  scaling?: IScaling;
}

/** When the batch system would start the job as asked (`sbatch --test-only`). */
export interface IStartEstimate {
  /** ISO 8601; null: no estimate. */
  start: string | null;
  /** The batch system's words for it, or for why there is none. */
  detail: string | null;
}

export interface IPreview {
  code: string;
  job_script: string | null;
  /** The scheduler's own batch job's script; null beside Jupyter. */
  scheduler_job_script?: string | null;
  start_estimate?: IStartEstimate;
}

export interface ISnippet {
  /** The explicit form: scheduler address and TLS files (copied). */
  code: string;
  /** The short form, `connect("<id>")` (inserted); null where there is none. */
  connect_code?: string | null;
  /** Set when the notebook's kernel has other versions than the cluster. */
  warning?: string | null;
}

/** Schema id of the server's cluster events (jupyter_events). */
export const CLUSTER_EVENT_SCHEMA =
  'https://schema.dask-cluster-launcher.org/events/cluster';

/** Rows of a cluster added or changed, and keys of rows removed. */
export interface IRowsPatch<T> {
  upsert?: T[];
  remove?: string[];
}

/** What changed in a cluster (a `changed` event): the server sends only this. */
export interface IClusterPatch {
  fields?: IClusterFields;
  workers?: IRowsPatch<IWorker>;
  jobs?: IRowsPatch<IJob>;
}

export interface IClusterEvent {
  /** updated: the whole cluster; changed: a patch; removed: gone. */
  action: 'updated' | 'changed' | 'removed';
  cluster_id: string;
  cluster?: ICluster;
  changes?: IClusterPatch;
}
