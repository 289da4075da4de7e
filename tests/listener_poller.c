/* An attacker for tests/test_attack_private_paths.py: another user of the machine who watches
 * for TCP listeners of the owner's and asks each one for HTTP the moment it appears.
 *
 *   listener_poller UID SECONDS LOG [IGNORED_PORT...]
 *
 * Anyone may read /proc/net/tcp and /proc/net/tcp6: every socket of the machine with its state,
 * local address and owner's uid. In a busy loop this reads both, and for each socket in LISTEN
 * state (0A) owned by UID that it has not seen before (port and inode), it connects at once
 * (on loopback the kernel completes the handshake even before the server accepts), then a
 * child process sends "GET /health" and "GET /json/identity.json" and reads the answer while
 * the loop goes on. A listener that lived a few milliseconds (a dashboard bound to TCP before
 * moving to a Unix socket, a worker's HTTP server closed by its preload) is caught, and a
 * connection accepted then is still served after the port closed.
 *
 * LOG gets one line per listener: "PORT INODE http FIRST-LINE", "PORT INODE other HEX" (an
 * answer that is not HTTP: TLS alerts), "PORT INODE silent" or "PORT INODE refused ERRNO".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_SEEN 65536
#define MAX_IGNORED 64

static unsigned long seen_port[MAX_SEEN];
static unsigned long seen_inode[MAX_SEEN];
static int seen;
static int ignored[MAX_IGNORED];
static int ignored_count;
static FILE *log_file;

static int was_seen(unsigned long port, unsigned long inode) {
  for (int i = 0; i < seen; i++)
    if (seen_port[i] == port && seen_inode[i] == inode) return 1;
  if (seen < MAX_SEEN) {
    seen_port[seen] = port;
    seen_inode[seen] = inode;
    seen++;
  }
  return 0;
}

static void note(const char *line) {
  fputs(line, log_file);
  fflush(log_file);
}

/* In a child: ask the connected socket for HTTP and write what came back. */
static void ask(int fd, unsigned long port, unsigned long inode) {
  char answer[512], line[1200];
  struct timeval timeout = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  const char *request =
      "GET /json/identity.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
      "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  ssize_t sent = write(fd, request, strlen(request));
  ssize_t got = sent > 0 ? read(fd, answer, sizeof answer - 1) : -1;
  if (got <= 0) {
    snprintf(line, sizeof line, "%lu %lu silent\n", port, inode);
  } else if (got >= 5 && memcmp(answer, "HTTP/", 5) == 0) {
    answer[got] = 0;
    answer[strcspn(answer, "\r\n")] = 0;
    snprintf(line, sizeof line, "%lu %lu http %s\n", port, inode, answer);
  } else {
    char hex[64] = "";
    for (int i = 0; i < got && i < 16; i++) sprintf(hex + 2 * i, "%02x", (unsigned char)answer[i]);
    snprintf(line, sizeof line, "%lu %lu other %s\n", port, inode, hex);
  }
  note(line);
}

static void probe(int family, const char *address_hex, unsigned long port, unsigned long inode) {
  int fd = socket(family, SOCK_STREAM, 0);
  int rc;
  if (family == AF_INET) {
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    unsigned int raw = (unsigned int)strtoul(address_hex, NULL, 16);
    to.sin_addr.s_addr = raw ? raw : htonl(INADDR_LOOPBACK); /* 0.0.0.0: loopback */
    rc = connect(fd, (struct sockaddr *)&to, sizeof to);
  } else {
    struct sockaddr_in6 to = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    to.sin6_addr = in6addr_loopback;
    rc = connect(fd, (struct sockaddr *)&to, sizeof to);
  }
  if (rc != 0) {
    char line[128];
    snprintf(line, sizeof line, "%lu %lu refused %d\n", port, inode, errno);
    note(line);
    close(fd);
    return;
  }
  if (fork() == 0) {
    ask(fd, port, inode);
    _exit(0);
  }
  close(fd);
}

static void scan(const char *table, int family, unsigned long uid) {
  FILE *f = fopen(table, "r");
  if (!f) return;
  char text[512];
  if (!fgets(text, sizeof text, f)) { /* the header */
    fclose(f);
    return;
  }
  while (fgets(text, sizeof text, f)) {
    char local[64], remote[64], state[8];
    unsigned long owner, inode;
    /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
    if (sscanf(text, " %*s %63s %63s %7s %*s %*s %*s %lu %*s %lu", local, remote, state, &owner,
               &inode) != 5)
      continue;
    if (strcmp(state, "0A") != 0 || owner != uid) continue;
    char *colon = strrchr(local, ':');
    if (!colon) continue;
    *colon = 0;
    unsigned long port = strtoul(colon + 1, NULL, 16);
    int skip = 0;
    for (int i = 0; i < ignored_count; i++) skip |= ignored[i] == (int)port;
    if (skip || was_seen(port, inode)) continue;
    probe(family, local, port, inode);
  }
  fclose(f);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s UID SECONDS LOG [IGNORED_PORT...]\n", argv[0]);
    return 2;
  }
  unsigned long uid = strtoul(argv[1], NULL, 10);
  double seconds = atof(argv[2]);
  log_file = fopen(argv[3], "a");
  if (!log_file) return 1;
  for (int i = 4; i < argc && ignored_count < MAX_IGNORED; i++) ignored[ignored_count++] = atoi(argv[i]);
  signal(SIGCHLD, SIG_IGN); /* children reaped by the kernel */
  signal(SIGPIPE, SIG_IGN);
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  note("started\n");
  do {
    scan("/proc/net/tcp", AF_INET, uid);
    scan("/proc/net/tcp6", AF_INET6, uid);
    usleep(200); /* a listener that lives a millisecond is still seen; a core is left to others */
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while ((now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9 < seconds);
  note("done\n");
  return 0;
}
