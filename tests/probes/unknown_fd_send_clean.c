// expect: clean
// kind: none
// allow: 127.0.0.1:9050
// what: sends without address on descriptors whose socket the trace may never show created: socketpair() ends, an accept()ed loopback connection, dup()s of them and of a connected client, a descriptor received over SCM_RIGHTS; each is looked up (unix: local; accepted: a reply; client: its connect was to the tree's own listener).
// note: the received descriptor stays open 100 ms after its send: strace's line arrives after the call, and recvmsg is not traced, so a descriptor closed at once could not be looked up (unverified, never clean).
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
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return 0;
    send(sv[0], "a", 1, MSG_NOSIGNAL);
    int d = dup(sv[0]);
    if (d >= 0) send(d, "b", 1, MSG_NOSIGNAL);

    struct sockaddr_in sa = in4("127.0.0.1", 0);
    socklen_t len = sizeof sa;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls < 0) return 0;
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 4) < 0) return 0;
    if (getsockname(ls, (struct sockaddr *)&sa, &len) < 0) return 0;
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof sa) < 0) return 0;
    int s = accept(ls, NULL, NULL);
    if (s >= 0) {
        send(s, "hello", 5, MSG_NOSIGNAL);
        int s2 = dup(s);
        if (s2 >= 0) send(s2, "again", 5, MSG_NOSIGNAL);
    }
    int c2 = fcntl(c, F_DUPFD_CLOEXEC, 20);
    if (c2 >= 0) send(c2, "q", 1, MSG_NOSIGNAL);

    /* Hand the accepted connection over SCM_RIGHTS and send on the received copy. */
    if (s >= 0) {
        char cbuf[CMSG_SPACE(sizeof(int))];
        memset(cbuf, 0, sizeof cbuf);
        struct iovec iov = {.iov_base = "f", .iov_len = 1};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &s, sizeof(int));
        sendmsg(sv[0], &msg, 0);
        char b[1];
        struct iovec riov = {.iov_base = b, .iov_len = 1};
        char rbuf[CMSG_SPACE(sizeof(int))];
        struct msghdr rmsg = {.msg_iov = &riov, .msg_iovlen = 1, .msg_control = rbuf, .msg_controllen = sizeof rbuf};
        char drain[16];
        recv(sv[1], drain, 2, 0); /* "a", "b" */
        if (recvmsg(sv[1], &rmsg, 0) > 0) {
            struct cmsghdr *rc = CMSG_FIRSTHDR(&rmsg);
            if (rc && rc->cmsg_type == SCM_RIGHTS) {
                int got;
                memcpy(&got, CMSG_DATA(rc), sizeof(int));
                send(got, "passed", 6, MSG_NOSIGNAL);
                /* recvmsg is not traced: with strace the look-up runs just after the
                 * send, so keep the descriptor open a moment. */
                usleep(100000);
            }
        }
    }
    return 0;
}
