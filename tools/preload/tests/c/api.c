/* Calls every function the preload library exports, with edge cases, and
   checks results and errno. Prints one line per failed check; exits 0 when
   all pass. It must pass under glibc's malloc too: the expectations are
   glibc's. Built with -fno-builtin so the compiler keeps every call. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            printf("FAILED line %d: %s (errno %d)\n", __LINE__, #cond, errno); \
            failures++;                                                    \
        }                                                                  \
    } while (0)

static int aligned(void *p, size_t align) { return ((uintptr_t)p & (align - 1)) == 0; }

/* Sizes the compiler cannot see through. */
static volatile size_t huge = SIZE_MAX;
static volatile size_t half = SIZE_MAX / 2 + 1;

int main(void) {
    char *p, *q;
    void *v;

    /* malloc: 0 gives a unique block that can be freed; huge gives ENOMEM. */
    p = malloc(0);
    q = malloc(0);
    CHECK(p != NULL && q != NULL && p != q);
    free(p);
    free(q);
    free(NULL);
    errno = 0;
    CHECK(malloc(huge) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(malloc(huge - 15) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(malloc(half) == NULL && errno == ENOMEM);
    for (size_t n = 1; n < 5000; n = n * 3 + 1) {
        p = malloc(n);
        CHECK(p != NULL && aligned(p, 16) && malloc_usable_size(p) >= n);
        memset(p, 0xab, n);
        free(p);
    }
    CHECK(malloc_usable_size(NULL) == 0);

    /* calloc: zeroed, even on reused memory; overflow gives ENOMEM. */
    p = malloc(4096);
    memset(p, 0xff, 4096);
    free(p);
    p = calloc(64, 64);
    CHECK(p != NULL);
    for (int i = 0; p && i < 4096; i++)
        if (p[i] != 0) { CHECK(!"calloc zeroes"); break; }
    free(p);
    p = calloc(0, 10);
    CHECK(p != NULL);
    free(p);
    errno = 0;
    CHECK(calloc(huge / 2, 3) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(calloc(1 << 20, 1 << 20) == NULL || errno == 0); /* 1 TiB: may fail */

    /* realloc: NULL is malloc, contents kept, 0 frees and returns NULL,
       failure keeps the block. */
    p = realloc(NULL, 10);
    CHECK(p != NULL);
    strcpy(p, "123456789");
    p = realloc(p, 100000);
    CHECK(p != NULL && strcmp(p, "123456789") == 0);
    p = realloc(p, 5);
    CHECK(p != NULL && memcmp(p, "12345", 5) == 0);
    errno = 0;
    q = realloc(p, huge);
    CHECK(q == NULL && errno == ENOMEM && memcmp(p, "12345", 5) == 0);
    q = realloc(p, 0);
    CHECK(q == NULL);

    /* reallocarray: overflow gives ENOMEM and keeps the block. */
    p = reallocarray(NULL, 10, 10);
    CHECK(p != NULL);
    memset(p, 7, 100);
    errno = 0;
    q = reallocarray(p, huge / 2, 4);
    CHECK(q == NULL && errno == ENOMEM && p[99] == 7);
    p = reallocarray(p, 20, 10);
    CHECK(p != NULL && p[99] == 7);
    free(p);

    /* posix_memalign: every power of two from sizeof(void *) to 1 MiB;
       EINVAL for bad alignments (and *out untouched); ENOMEM for huge. */
    for (size_t a = sizeof(void *); a <= (1 << 20); a *= 2) {
        v = NULL;
        CHECK(posix_memalign(&v, a, 100) == 0 && v != NULL && aligned(v, a));
        if (v) memset(v, 1, 100);
        free(v);
        v = NULL;
        CHECK(posix_memalign(&v, a, 0) == 0 && aligned(v, a));
        free(v);
    }
    size_t bad[] = {0, 1, 2, 4, 12, 24, 48, 100, 3 << 20};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = (void *)&failures;
        CHECK(posix_memalign(&v, bad[i], 16) == EINVAL && v == (void *)&failures);
    }
    v = NULL;
    CHECK(posix_memalign(&v, 64, huge) == ENOMEM && v == NULL);

    /* aligned_alloc and memalign: alignments 1 to 1 MiB. */
    for (size_t a = 1; a <= (1 << 20); a *= 2) {
        p = aligned_alloc(a, a * 2);
        CHECK(p != NULL && aligned(p, a));
        if (p) memset(p, 2, a * 2);
        free(p);
        p = memalign(a, 33);
        CHECK(p != NULL && aligned(p, a) && malloc_usable_size(p) >= 33);
        free(p);
    }
    /* glibc rounds a memalign alignment up to a power of two. */
    p = memalign(48, 10);
    CHECK(p != NULL && aligned(p, 64));
    free(p);
    /* aligned_alloc with a bad alignment: EINVAL (glibc 2.38 on) or rounded
       up (older glibc). */
    errno = 0;
    p = aligned_alloc(48, 96);
    CHECK((p == NULL && errno == EINVAL) || (p != NULL && aligned(p, 16)));
    free(p);
    errno = 0;
    CHECK(memalign(64, huge) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(memalign(huge, 64) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(aligned_alloc(64, huge) == NULL && errno == ENOMEM);

    /* valloc and pvalloc: page-aligned; pvalloc rounds the size up. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    p = valloc(10);
    CHECK(p != NULL && aligned(p, page));
    free(p);
    p = pvalloc(10);
    CHECK(p != NULL && aligned(p, page) && malloc_usable_size(p) >= page);
    if (p) memset(p, 3, page);
    free(p);
    errno = 0;
    CHECK(valloc(huge) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(pvalloc(huge) == NULL && errno == ENOMEM);

    /* Many live blocks of mixed sizes, freed in another order. */
    enum { N = 2000 };
    static char *blocks[N];
    for (int i = 0; i < N; i++) {
        size_t n = (size_t)(i * 37 % 3000) + 1;
        blocks[i] = malloc(n);
        CHECK(blocks[i] != NULL);
        if (blocks[i]) memset(blocks[i], i & 0xff, n);
    }
    for (int i = 0; i < N; i += 2) free(blocks[i]);
    for (int i = 1; i < N; i += 2) {
        size_t n = (size_t)(i * 37 % 3000) + 1;
        CHECK(blocks[i][0] == (char)(i & 0xff) && blocks[i][n - 1] == (char)(i & 0xff));
        free(blocks[i]);
    }

    printf("%d failures\n", failures);
    return failures == 0 ? 0 : 1;
}
