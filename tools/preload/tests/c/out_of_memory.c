/* Allocates blocks of argv[1] bytes until malloc fails, under a small
   address-space limit set by the test: the failure must be NULL with errno
   ENOMEM, not a crash. Then frees everything, newest first, and says
   whether a small malloc works again (stages without reuse may say no). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    size_t size = argc > 1 ? (size_t)atol(argv[1]) : 64;
    if (size < sizeof(void *)) size = sizeof(void *);
    printf("size %zu: ", size);
    fflush(stdout);
    /* The live blocks form a list through their first word, so that keeping
       them costs no memory of its own. */
    void **head = NULL;
    long count = 0;
    int err;
    for (;;) {
        errno = 0;
        void **p = malloc(size);
        if (!p) {
            err = errno;
            break;
        }
        *p = head;
        head = p;
        count++;
    }
    while (head) {
        void **next = *head;
        free(head);
        head = next;
    }
    void *again = malloc(100);
    printf("%ld blocks, then NULL with errno %d; after freeing them malloc(100) %s\n",
           count, err, again ? "works" : "fails");
    free(again);
    return count > 0 && err == ENOMEM ? 0 : 1;
}
