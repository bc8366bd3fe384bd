// expect: warning-only
// kind: route-probe
// allow: 127.0.0.1:9050
// what: glibc's address sorting (getaddrinfo, RFC 3484): a UDP socket connect()ed to [::1]:9050, then to 192.0.2.1:80 after an AF_UNSPEC reset, each followed by getsockname() and no data: route probes, no packet leaves.
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
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
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

__attribute__((unused)) static struct sockaddr_in in4(const char *ip, int port) {
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    inet_pton(AF_INET, ip, &sa.sin_addr);
    return sa;
}

__attribute__((unused)) static struct sockaddr_in6 in6(const char *ip, int port) {
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &sa.sin6_addr);
    return sa;
}

int main(void) {
    require_isolated_netns();
    hang_guard();
    struct sockaddr_in6 lo6 = in6("::1", 9050);
    struct sockaddr_in far = in4("192.0.2.1", 80);
    struct sockaddr_storage me;
    socklen_t len;
    int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_IP);
    if (fd >= 0) {
        if (connect(fd, (struct sockaddr *)&lo6, sizeof lo6) == 0) {
            len = sizeof me;
            getsockname(fd, (struct sockaddr *)&me, &len);
        }
        close(fd);
    }
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_IP);
    if (fd >= 0) {
        struct sockaddr sa = {.sa_family = AF_UNSPEC};
        connect(fd, &sa, sizeof sa);
        connect(fd, (struct sockaddr *)&far, sizeof far);
        len = sizeof me;
        getsockname(fd, (struct sockaddr *)&me, &len);
        close(fd);
    }
    return 0;
}
