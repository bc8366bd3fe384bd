// expect: clean
// kind: none
// allow: 127.0.0.1:9050
// what: a child blocks in sendto() on a full AF_UNIX socketpair (after a connect to 127.0.0.1:9050) and is SIGKILLed by the parent: shows <unfinished ...> without resumed, '= ?' and '+++ killed by SIGKILL +++'; the probe itself exits 0.
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
    pid_t pid = fork();
    if (pid == 0) {
        hang_guard();
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_port = htons(9050);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd >= 0) connect(fd, (struct sockaddr *)&sa, sizeof sa);
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) _exit(0);
        int sz = 4096;
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
        static char big[65536];
        memset(big, 'x', sizeof big);
        for (;;) sendto(sv[0], big, sizeof big, 0, NULL, 0); /* blocks once full */
    }
    if (pid < 0) return 0;
    usleep(150000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 0;
}
