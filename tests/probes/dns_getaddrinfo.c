// expect: leaked
// kind: dns
// allow: 127.0.0.1:9050
// what: getaddrinfo("example.com", "80") through glibc: nscd socket attempt, then UDP to the resolv.conf nameserver port 53 (unreachable in a namespace, but attempted).
// note: refuses to run (exit 3) if nscd or a non files/dns hosts module is configured: those daemons live outside the network namespace and would really resolve.
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
#include <netdb.h>

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
static void on_alarm(int sig) { (void)sig; _exit(0); }
static void hang_guard(void) { signal(SIGALRM, on_alarm); alarm(2); }

/* SAFETY: nscd, systemd-resolved (nss-resolve), mdns etc. are daemons outside the
 * network namespace reached through unix sockets: they would do a real lookup. */
static void require_plain_resolver(void) {
    if (access("/run/nscd/socket", F_OK) == 0 || access("/var/run/nscd/socket", F_OK) == 0) {
        fprintf(stderr, "probe: SAFETY: nscd socket present; refusing to look a name up\n");
        _exit(3);
    }
    FILE *f = fopen("/etc/nsswitch.conf", "r");
    char line[512];
    if (!f) return; /* glibc default: files dns */
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "hosts:", 6) != 0) continue;
        for (char *t = strtok(line + 6, " \t\n"); t; t = strtok(NULL, " \t\n")) {
            if (strcmp(t, "files") && strcmp(t, "dns") && strcmp(t, "myhostname") && t[0] != '[') {
                fprintf(stderr, "probe: SAFETY: hosts module '%s' in nsswitch.conf may resolve outside the namespace; refusing\n", t);
                _exit(3);
            }
        }
    }
    fclose(f);
}

int main(void) {
    require_isolated_netns();
    require_plain_resolver();
    hang_guard();
    setenv("RES_OPTIONS", "timeout:1 attempts:1", 1);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo("example.com", "80", &hints, &res) == 0) freeaddrinfo(res);
    return 0;
}
