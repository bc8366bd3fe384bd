// expect: clean
// kind: none
// allow: 127.0.0.1:9050
// what: raw clone(SIGCHLD) without CLONE_UNTRACED: the child is traced; it connects to the allowed proxy 127.0.0.1:9050, so nothing is flagged (the clean twin of clone_untraced).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

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
/* Hang guard: whatever happens, end with status 0 within 2 s. */
static void on_alarm(int sig) { (void)sig; _exit(0); }
static void hang_guard(void) { signal(SIGALRM, on_alarm); alarm(2); }

static void leak(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(9050);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    connect(fd, (struct sockaddr *)&sa, sizeof sa);
    close(fd);
}

int main(void) {
    require_isolated_netns();
    hang_guard();
    /* Raw clone, fork-like (no new stack): flags first on x86_64 and aarch64. */
    long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) {
        leak();
        _exit(0);
    }
    if (pid > 0) waitpid((pid_t)pid, NULL, 0);
    return 0;
}
