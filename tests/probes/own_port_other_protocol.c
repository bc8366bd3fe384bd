// expect: leaked
// kind: connect
// allow: 127.0.0.1:9050
// what: a UDP socket bound to 127.0.0.2:8080 and another to [::]:8081; TCP connect()s to 127.0.0.2:8080 and 127.0.0.1:8081: a UDP socket does not make a TCP port the tree's own server (only a listener of the same protocol does).
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
    struct sockaddr_in a = in4("127.0.0.2", 8080), b = in4("127.0.0.1", 8081);
    struct sockaddr_in6 any6 = in6("::", 8081);
    int u1 = socket(AF_INET, SOCK_DGRAM, 0);
    int u2 = socket(AF_INET6, SOCK_DGRAM, 0);
    if (u1 < 0 || u2 < 0) return 0;
    bind(u1, (struct sockaddr *)&a, sizeof a);
    bind(u2, (struct sockaddr *)&any6, sizeof any6);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    if (t >= 0) {
        connect(t, (struct sockaddr *)&a, sizeof a);
        close(t);
    }
    t = socket(AF_INET, SOCK_STREAM, 0);
    if (t >= 0) {
        connect(t, (struct sockaddr *)&b, sizeof b);
        close(t);
    }
    close(u1);
    close(u2);
    return 0;
}
