/* bench/maildir_mda.c — fetchmail's MDA in scenario 3 of bench/run.py: one message from stdin
 * into the Maildir DIR the way a durable delivery does it: write DIR/tmp/NAME, fsync it, rename
 * it into DIR/new/, fsync DIR/new. C rather than a script so that the MDA's own start-up (a
 * Python interpreter costs about 7 ms per message here) does not count against fetchmail.
 * Usage: maildir_mda DIR; exit 0 when stored, 75 (EX_TEMPFAIL) otherwise. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) return 75;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char name[128], tmp[4096], fin[4096], dir[4096];
    snprintf(name, sizeof name, "%ld.M%ldP%d.benchmda", (long)tv.tv_sec, (long)tv.tv_usec, (int)getpid());
    snprintf(tmp, sizeof tmp, "%s/tmp/%s", argv[1], name);
    snprintf(fin, sizeof fin, "%s/new/%s", argv[1], name);
    snprintf(dir, sizeof dir, "%s/new", argv[1]);
    int fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY, 0600);
    if (fd < 0) return 75;
    char buf[65536];
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n == 0) break;
        if (n < 0) { unlink(tmp); return 75; }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w <= 0) { unlink(tmp); return 75; }
            off += w;
        }
    }
    if (fsync(fd) != 0 || close(fd) != 0) { unlink(tmp); return 75; }
    if (rename(tmp, fin) != 0) { unlink(tmp); return 75; }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd < 0 || fsync(dfd) != 0) return 75;
    close(dfd);
    return 0;
}
