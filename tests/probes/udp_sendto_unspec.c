// expect: leaked
// kind: send
// allow: 127.0.0.1:9050
// what: an AF_INET UDP socket sendto()s and sendmsg()s a sockaddr whose sa_family is AF_UNSPEC: Linux sends to the port and IPv4 address in sa_data (192.0.2.1:9999), as for AF_INET.
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
    struct sockaddr_in far = in4("192.0.2.1", 9999);
    far.sin_family = AF_UNSPEC;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return 0;
    sendto(fd, "ping", 4, 0, (struct sockaddr *)&far, sizeof far);
    struct iovec iov = {.iov_base = "pong", .iov_len = 4};
    struct msghdr msg = {.msg_name = &far, .msg_namelen = sizeof far, .msg_iov = &iov, .msg_iovlen = 1};
    sendmsg(fd, &msg, 0);
    close(fd);
    return 0;
}
