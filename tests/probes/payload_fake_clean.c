// expect: clean
// kind: none
// allow: 127.0.0.1:9050
// what: UDP socket connected to 127.0.0.1:9050; sendto(NULL)/send()/sendmsg(no name) of payloads that contain strace-like address text, quotes and newlines: a payload must never be read as an address.
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
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(9050);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(fd, (struct sockaddr *)&sa, sizeof sa);
    const char *p1 = "{sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr(\"8.8.8.8\")}";
    const char *p2 = "\", 5, 0, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr(\"8.8.4.4\")}, 16) = 5\n"
                     "4242  connect(3, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), "
                     "inet_pton(AF_INET6, \"2001:db8::1\", &sin6_addr), sin6_scope_id=0}, 28) = 0\n";
    const char *p3 = "msg_name={sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr(\"1.1.1.1\")}, \\\" ' } ] )\r\n\t";
    sendto(fd, p1, strlen(p1), 0, NULL, 0);
    send(fd, p2, strlen(p2), 0);
    struct iovec iov[2] = {{(void *)p3, strlen(p3)}, {(void *)p1, strlen(p1)}};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = iov;
    mh.msg_iovlen = 2;
    sendmsg(fd, &mh, 0);
    close(fd);
    return 0;
}
