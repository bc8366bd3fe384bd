/* Not a probe (tests/probes/build.sh builds only the top directory): the traced side of
 * tests/run_command.rs's descriptor-passing test. Connects to the unix socket named by
 * argv[1], receives one descriptor over SCM_RIGHTS from the (untraced) test process, and
 * send()s on it without address: a socket whose socket() and connect() the trace never
 * showed. Stays 100 ms before exiting so that a look-up running behind the call (strace)
 * still finds the descriptor. Loopback only: the test hands over a socket connected to
 * 127.0.0.1:9. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void on_alarm(int sig) { (void)sig; _exit(0); }

int main(int argc, char **argv) {
    signal(SIGALRM, on_alarm);
    alarm(5);
    if (argc < 2) return 2;
    int u = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    strncpy(un.sun_path, argv[1], sizeof un.sun_path - 1);
    if (u < 0 || connect(u, (struct sockaddr *)&un, sizeof un) < 0) return 2;
    char b;
    struct iovec iov = {.iov_base = &b, .iov_len = 1};
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    if (recvmsg(u, &msg, 0) <= 0) return 2;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    if (!cm || cm->cmsg_type != SCM_RIGHTS) return 2;
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    send(fd, "smuggled", 8, MSG_NOSIGNAL);
    usleep(100000);
    return 0;
}
