// expect: leaked
// kind: connect
// allow: 127.0.0.1:9050
// what: ports held by the tree under the other protocol, or no more: a TCP connect() to the port of a UDP socket bound implicitly by sendto(); a UDP sendto() to a port a closed TCP socket had. Neither destination is the tree's own server at the time of the attempt.
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
    hang_guard();
    struct sockaddr_in echo = in4("127.0.0.1", 0);
    socklen_t len = sizeof echo;
    int e = socket(AF_INET, SOCK_DGRAM, 0);
    int c = socket(AF_INET, SOCK_DGRAM, 0);
    if (e < 0 || c < 0) return 0;
    if (bind(e, (struct sockaddr *)&echo, sizeof echo) < 0) return 0;
    if (getsockname(e, (struct sockaddr *)&echo, &len) < 0) return 0;
    sendto(c, "ping", 4, 0, (struct sockaddr *)&echo, sizeof echo);
    char buf[16];
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    if (recvfrom(e, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen) > 0) {
        /* from: the client's implicit UDP port. A TCP connect there reaches nobody. */
        from.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int t = socket(AF_INET, SOCK_STREAM, 0);
        if (t >= 0) {
            connect(t, (struct sockaddr *)&from, sizeof from);
            close(t);
        }
    }
    close(c);
    close(e);

    /* A TCP socket bound (not listening) shows its port; closed, a UDP send there. */
    struct sockaddr_in sa = in4("127.0.0.1", 0);
    len = sizeof sa;
    int t = socket(AF_INET, SOCK_STREAM, 0);
    if (t < 0) return 0;
    if (bind(t, (struct sockaddr *)&sa, sizeof sa) < 0 || getsockname(t, (struct sockaddr *)&sa, &len) < 0) return 0;
    close(t);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    if (u >= 0) {
        sendto(u, "x", 1, 0, (struct sockaddr *)&sa, sizeof sa);
        close(u);
    }
    return 0;
}
