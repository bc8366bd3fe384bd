/* A BitTorrent-style announce through a SOCKS5 proxy (127.0.0.1:9050) with Tor
 * isolation credentials. `announce leak` puts the first non-loopback IPv4 address that
 * getifaddrs() returns in the request, as trackers ask for (`ip=`): a protocol leak.
 * `announce clean` sends the same request without it. Used by tests/standin.rs, through
 * the stand-in proxy only (every connection goes to loopback). */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int exchange(int fd, const void *out, size_t len, void *in, size_t want) {
    if (write(fd, out, len) != (ssize_t)len) return -1;
    size_t got = 0;
    while (got < want) {
        ssize_t n = read(fd, (char *)in + got, want - got);
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    return 0;
}

int main(int argc, char **argv) {
    int leak = argc > 1 && strcmp(argv[1], "leak") == 0;
    char addr[INET_ADDRSTRLEN] = "";
    struct ifaddrs *ifs, *i;
    if (getifaddrs(&ifs) == 0) {
        for (i = ifs; i; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
            struct in_addr a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
            if ((ntohl(a.s_addr) >> 24) == 127) continue;
            inet_ntop(AF_INET, &a, addr, sizeof addr);
            break;
        }
        freeifaddrs(ifs);
    }

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in proxy = {.sin_family = AF_INET, .sin_port = htons(9050)};
    inet_pton(AF_INET, "127.0.0.1", &proxy.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&proxy, sizeof proxy) != 0) {
        perror("connect");
        return 2;
    }
    unsigned char reply[10];
    if (exchange(fd, "\x05\x01\x02", 3, reply, 2) || reply[1] != 2) return 3;
    const char *user = "<torS0X>0", *pass = "id-announce";
    unsigned char auth[64];
    size_t n = 0;
    auth[n++] = 1;
    auth[n++] = (unsigned char)strlen(user);
    memcpy(auth + n, user, strlen(user));
    n += strlen(user);
    auth[n++] = (unsigned char)strlen(pass);
    memcpy(auth + n, pass, strlen(pass));
    n += strlen(pass);
    if (exchange(fd, auth, n, reply, 2) || reply[1] != 0) return 4;
    const char *host = "tracker.example.com";
    unsigned char req[300];
    n = 0;
    req[n++] = 5, req[n++] = 1, req[n++] = 0, req[n++] = 3;
    req[n++] = (unsigned char)strlen(host);
    memcpy(req + n, host, strlen(host));
    n += strlen(host);
    req[n++] = 0, req[n++] = 80;
    if (exchange(fd, req, n, reply, 10) || reply[1] != 0) return 5;

    char get[512];
    if (leak)
        snprintf(get, sizeof get, "GET /announce?info_hash=x&port=6881&ip=%s HTTP/1.0\r\nHost: %s\r\n\r\n", addr, host);
    else
        snprintf(get, sizeof get, "GET /announce?info_hash=x&port=6881 HTTP/1.0\r\nHost: %s\r\n\r\n", host);
    if (write(fd, get, strlen(get)) < 0) return 6;
    char rest[256];
    while (read(fd, rest, sizeof rest) > 0) {
    }
    close(fd);
    printf("announced%s%s\n", leak ? " with ip=" : "", leak ? addr : "");
    return 0;
}
