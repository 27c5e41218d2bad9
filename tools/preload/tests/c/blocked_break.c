/* The break cannot grow: a page is mapped right where it ends. Then 20,000
   small blocks and a few larger ones are allocated and checked. Prints how
   many succeeded; a malloc that cannot get memory must return NULL with
   errno ENOMEM, never crash. (RLIMIT_DATA would not do: since Linux 4.7 it
   limits private mappings too, so mmap would fail along with brk.) */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
    long page = sysconf(_SC_PAGESIZE);
    unsigned long end = ((unsigned long)sbrk(0) + page - 1) & ~(unsigned long)(page - 1);
    void *wall = mmap((void *)end, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (wall == MAP_FAILED) { perror("mmap at the break"); return 2; }
    if (sbrk(page) != (void *)-1) { puts("the break still grows: test is void"); return 2; }
    int ok = 0, failed = 0;
    for (int i = 0; i < 20000; i++) {
        size_t size = (i % 10 == 0) ? 5000 : 100;
        errno = 0;
        char *p = malloc(size);
        if (!p) {
            if (errno != ENOMEM) { printf("NULL without ENOMEM at %d\n", i); return 1; }
            failed++;
            continue;
        }
        memset(p, i & 0xff, size);
        if (p[size - 1] != (char)(i & 0xff)) { puts("bad memory"); return 1; }
        ok++;
    }
    printf("allocated %d, failed %d\n", ok, failed);
    return 0;
}
