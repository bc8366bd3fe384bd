// expect: clean
// kind: none
// allow: 127.0.0.1:9050
// what: UDP sendmmsg() of 3 messages, all to its own bound 127.0.0.1 socket (own endpoint).
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
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return 0;
    struct sockaddr_in self;
    socklen_t len = sizeof self;
    memset(&self, 0, sizeof self);
    self.sin_family = AF_INET;
    self.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&self, sizeof self) < 0) return 0;
    if (getsockname(fd, (struct sockaddr *)&self, &len) < 0) return 0;
    struct mmsghdr m[3];
    struct iovec iov[3];
    memset(m, 0, sizeof m);
    for (int i = 0; i < 3; i++) {
        iov[i].iov_base = "self";
        iov[i].iov_len = 4;
        m[i].msg_hdr.msg_name = &self;
        m[i].msg_hdr.msg_namelen = sizeof self;
        m[i].msg_hdr.msg_iov = &iov[i];
        m[i].msg_hdr.msg_iovlen = 1;
    }
    sendmmsg(fd, m, 3, 0);
    char buf[16];
    for (int i = 0; i < 3; i++) recv(fd, buf, sizeof buf, 0);
    close(fd);
    return 0;
}
