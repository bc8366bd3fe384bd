// expect: clean
// kind: none
// allow: 127.0.0.1:9050
// what: AF_INET6 TCP connect() to [::ffff:127.0.0.1]:9050, an IPv4-mapped address that must be judged as 127.0.0.1:9050 (allowed).
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

/* Hang guard: whatever happens, end with status 0 within 2 s. */
static void on_alarm(int sig) { (void)sig; _exit(0); }
static void hang_guard(void) { signal(SIGALRM, on_alarm); alarm(2); }

int main(void) {
    hang_guard();
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    int off = 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(9050);
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &sa.sin6_addr);
    connect(fd, (struct sockaddr *)&sa, sizeof sa);
    close(fd);
    return 0;
}
