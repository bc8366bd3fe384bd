// expect: clean
// kind: none
// allow: 127.0.0.1:9050
// what: own servers across loopback families: a TCP listener on 127.0.0.1:P gets connect()s to [::1]:P (a happy-eyeballs attempt) and 127.0.0.1:P; a UDP socket bound to [::1]:Q gets a datagram sent to 127.0.0.1:Q.
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
    struct sockaddr_in sa = in4("127.0.0.1", 0);
    socklen_t len = sizeof sa;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls < 0) return 0;
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 4) < 0) return 0;
    if (getsockname(ls, (struct sockaddr *)&sa, &len) < 0) return 0;
    struct sockaddr_in6 six = in6("::1", ntohs(sa.sin_port));
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd >= 0) {
        connect(fd, (struct sockaddr *)&six, sizeof six);
        close(fd);
    }
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0) {
        connect(fd, (struct sockaddr *)&sa, sizeof sa);
        close(fd);
    }
    struct sockaddr_in6 u6 = in6("::1", 0);
    len = sizeof u6;
    int u = socket(AF_INET6, SOCK_DGRAM, 0);
    if (u >= 0 && bind(u, (struct sockaddr *)&u6, sizeof u6) == 0 &&
        getsockname(u, (struct sockaddr *)&u6, &len) == 0) {
        struct sockaddr_in four = in4("127.0.0.1", ntohs(u6.sin6_port));
        int c = socket(AF_INET, SOCK_DGRAM, 0);
        if (c >= 0) {
            sendto(c, "hi", 2, 0, (struct sockaddr *)&four, sizeof four);
            close(c);
        }
    }
    if (u >= 0) close(u);
    close(ls);
    return 0;
}
