#define _GNU_SOURCE
#include <errno.h>
#include <sys/socket.h>
#include "CSkeinSupport.h"

// accept4 is a GNU extension: Swift's Glibc module does not show it without _GNU_SOURCE.
int skein_accept_nonblocking(int listener) {
    int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}
