// expect: leaked
// kind: connect
// allow: 127.0.0.1:9050
// what: adversary: creates its socket, then writes the unterminated prefix 'PID  ioctl(4, FIONBIO, ' to every open fd 3..255 and to every non-tty fd of its tracer (/proc/TracerPid/fd/N), then connects to 192.0.2.1:80, so that strace's connect line is glued onto a harmless-looking ioctl line.
// accept: unverified   (tampering detected is fine; clean is a bug)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>

/* SAFETY: this probe targets a non-loopback address or does DNS. Refuse to run
 * unless the only network interface is lo, i.e. we are in a fresh network
 * namespace (unshare -n / leakcheck --isolate-network). */
static void require_isolated_netns(void) {
    FILE *f = fopen("/proc/net/dev", "r");
    char line[512];
    int n = 0, bad = 0;
    if (!f) { fprintf(stderr, "probe: SAFETY: cannot read /proc/net/dev; refusing\n"); _exit(3); }
    while (fgets(line, sizeof line, f)) {
        char *p = line, *c;
        if (++n <= 2) continue;
        while (*p == ' ') p++;
        if (!(c = strchr(p, ':'))) continue;
        *c = 0;
        if (strcmp(p, "lo") != 0) bad = 1;
    }
    fclose(f);
    if (bad) {
        fprintf(stderr, "probe: SAFETY: non-loopback interface present; run only in a fresh network namespace (unshare -n). Refusing.\n");
        _exit(3);
    }
}
/* Hang guard: whatever happens, end with status 0 within 2 s. */
static void on_alarm(int sig) { (void)sig; _exit(0); }
static void hang_guard(void) { signal(SIGALRM, on_alarm); alarm(2); }

static char prefix[64];
static int prefix_len;

static void inject(int fd) {
    ssize_t w = write(fd, prefix, (size_t)prefix_len);
    (void)w;
}

static int tracer_pid(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int t = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "TracerPid: %d", &t) == 1) break;
    fclose(f);
    return t;
}

int main(void) {
    require_isolated_netns();
    hang_guard();
    signal(SIGPIPE, SIG_IGN);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return 0;
    struct timeval tv = {0, 300000};
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    prefix_len = snprintf(prefix, sizeof prefix, "%-5d ioctl(%d, FIONBIO, ", (int)getpid(), s);

    /* collect every writable channel first, so nothing traced happens in between */
    int fds[512], n = 0;
    for (int fd = 3; fd < 256; fd++)
        if (fd != s && fcntl(fd, F_GETFD) != -1) fds[n++] = fd;
    int tp = tracer_pid();
    if (tp > 0) {
        char dir[64];
        snprintf(dir, sizeof dir, "/proc/%d/fd", tp);
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d)) && n < 512) {
            char path[320], target[256];
            if (e->d_name[0] == '.') continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            ssize_t l = readlink(path, target, sizeof target - 1);
            if (l < 0) continue;
            target[l] = 0;
            if (strncmp(target, "/dev/", 5) == 0) continue;
            int fd = open(path, O_WRONLY | O_APPEND | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
            if (fd >= 0) fds[n++] = fd;
        }
        if (d) closedir(d);
    }
    for (int i = 0; i < n; i++) inject(fds[i]);

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(80);
    inet_pton(AF_INET, "192.0.2.1", &sa.sin_addr);
    connect(s, (struct sockaddr *)&sa, sizeof sa);
    close(s);
    return 0;
}
