// expect: leaked
// kind: send
// allow: 127.0.0.1:9050
// what: UDP sendmmsg() of 3 messages: 127.0.0.1:9050 (allowed), its own bound port (own endpoint), 192.0.2.1:9999 (leak); the kernel returns 2, strace still prints all 3 (the unsent one has no msg_len).
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

int main(void) {
    require_isolated_netns();
    hang_guard();
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return 0;
    struct sockaddr_in self, dst[3];
    socklen_t len = sizeof self;
    memset(&self, 0, sizeof self);
    self.sin_family = AF_INET;
    self.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&self, sizeof self) < 0) return 0;
    if (getsockname(fd, (struct sockaddr *)&self, &len) < 0) return 0;
    memset(dst, 0, sizeof dst);
    dst[0].sin_family = AF_INET;
    dst[0].sin_port = htons(9050);
    dst[0].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    dst[1] = self;
    dst[2].sin_family = AF_INET;
    dst[2].sin_port = htons(9999);
    inet_pton(AF_INET, "192.0.2.1", &dst[2].sin_addr);
    struct mmsghdr m[3];
    struct iovec iov[3];
    memset(m, 0, sizeof m);
    for (int i = 0; i < 3; i++) {
        iov[i].iov_base = "mmsg";
        iov[i].iov_len = 4;
        m[i].msg_hdr.msg_name = &dst[i];
        m[i].msg_hdr.msg_namelen = sizeof dst[i];
        m[i].msg_hdr.msg_iov = &iov[i];
        m[i].msg_hdr.msg_iovlen = 1;
    }
    sendmmsg(fd, m, 3, 0);
    close(fd);
    return 0;
}
