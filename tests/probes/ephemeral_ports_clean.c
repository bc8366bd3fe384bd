// expect: clean
// kind: none
// allow: 127.0.0.1:9050
// what: ports the trace never shows bound (tokio's udp split_chan): an echo socket answers sendto() to the address recvfrom() gave it, a client socket bound implicitly by its first sendto(); a TCP listener bound to port 0 whose port is read from /proc/self/net/tcp (no getsockname) gets a connect(). Both ports are held by the tree when the attempt is made.
// note: the client and the listener stay open 100 ms after the attempts on them: with strace the look-up runs just after the call, and a port released at once would be missed (a false leak, never a false clean).
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

/* The port of the listening TCP socket `fd`, from /proc/self/net/tcp (by inode). */
static int tcp_port_of(int fd) {
    struct stat st;
    if (fstat(fd, &st) < 0) return -1;
    FILE *f = fopen("/proc/self/net/tcp", "r");
    if (!f) return -1;
    char line[512];
    int port = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned a, p, ra, rp, s;
        unsigned long inode;
        if (sscanf(line, " %*d: %8X:%4X %8X:%4X %2X %*s %*s %*s %*u %*u %lu", &a, &p, &ra, &rp, &s, &inode) == 6 &&
            inode == (unsigned long)st.st_ino)
            port = (int)p;
    }
    fclose(f);
    return port;
}

int main(void) {
    hang_guard();
    struct sockaddr_in echo = in4("127.0.0.1", 0);
    socklen_t len = sizeof echo;
    int e = socket(AF_INET, SOCK_DGRAM, 0);
    int c = socket(AF_INET, SOCK_DGRAM, 0);
    if (e < 0 || c < 0) return 0;
    if (bind(e, (struct sockaddr *)&echo, sizeof echo) < 0) return 0;
    if (getsockname(e, (struct sockaddr *)&echo, &len) < 0) return 0;
    sendto(c, "ping", 4, 0, (struct sockaddr *)&echo, sizeof echo);
    char buf[16];
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    ssize_t n = recvfrom(e, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
    if (n > 0) sendto(e, buf, (size_t)n, 0, (struct sockaddr *)&from, flen);
    recv(c, buf, sizeof buf, 0);
    usleep(100000);
    close(c);
    close(e);

    struct sockaddr_in sa = in4("127.0.0.1", 0);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls < 0) return 0;
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 4) < 0) return 0;
    int port = tcp_port_of(ls);
    if (port > 0) {
        struct sockaddr_in dest = in4("127.0.0.1", port);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd >= 0) {
            connect(fd, (struct sockaddr *)&dest, sizeof dest);
            int a = accept(ls, NULL, NULL);
            /* strace's line arrives after the call: keep the port held while leakcheck
             * looks it up (the native tracer looks while the call waits). */
            usleep(100000);
            if (a >= 0) close(a);
            close(fd);
        }
    } else {
        fprintf(stderr, "probe: listener port not found in /proc/self/net/tcp\n");
    }
    close(ls);
    return 0;
}
