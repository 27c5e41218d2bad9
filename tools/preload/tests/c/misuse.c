/* One misuse of the malloc API, named by argv[1]; the allocator should
   stop the program before it returns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    char *a = malloc(40);
    char *b = malloc(5000);
    char *keep = malloc(100); /* b is not at the top of the heap */
    if (!strcmp(argv[1], "double-free")) {
        free(a);
        free(a);
    } else if (!strcmp(argv[1], "double-free-large")) {
        free(b);
        free(b);
    } else if (!strcmp(argv[1], "interior")) {
        memset(b, 0xaa, 5000);
        free(b + 1024);
    } else if (!strcmp(argv[1], "realloc-freed")) {
        free(b);
        b = realloc(b, 9000);
    } else if (!strcmp(argv[1], "write-after-free")) {
        free(a);
        a[20] = 1;
        a = malloc(40);
    } else if (!strcmp(argv[1], "overflow")) {
        a[40] = 1; /* one byte past the 40 asked for */
        free(a);
    } else if (!strcmp(argv[1], "free-list-link")) {
        free(b);
        b[0] ^= 1; /* a stray write into the link of a block on a free list */
        b = malloc(5000);
    } else {
        return 2;
    }
    free(keep);
    puts("the misuse went unnoticed");
    return 0;
}
