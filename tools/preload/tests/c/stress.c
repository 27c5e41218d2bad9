/* Stress for a malloc: THREADS threads each run OPS random operations
   (malloc, calloc, realloc, free of 1..3000 bytes, 256 slots per thread),
   checking that every block keeps its contents; meanwhile the main thread
   forks FORKS times, and each child allocates, starts a thread of its own
   and exits. Usage: stress THREADS OPS FORKS. Prints a summary; exit 0 if
   all went well. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SLOTS 256

static long ops_per_thread;

static void *churn(void *arg) {
    unsigned x = (unsigned)(long)arg * 2654435761u + 1;
    unsigned char *slots[SLOTS] = {0};
    size_t sizes[SLOTS] = {0};
    long bad = 0;
    for (long i = 0; i < ops_per_thread; i++) {
        x = x * 1103515245u + 12345u;
        int s = (x >> 8) % SLOTS;
        unsigned char mark = (unsigned char)(s + (long)arg);
        if (slots[s]) {
            /* The block must still hold its mark, first and last byte. */
            if (slots[s][0] != mark || slots[s][sizes[s] - 1] != mark) bad++;
            if (x & 4) {
                size_t size = (x >> 16) % 3000 + 1;
                unsigned char *p = realloc(slots[s], size);
                if (!p) { bad++; continue; }
                size_t kept = size < sizes[s] ? size : sizes[s];
                if (p[0] != mark || p[kept - 1] != mark) bad++;
                memset(p, mark, size);
                slots[s] = p;
                sizes[s] = size;
                continue;
            }
            free(slots[s]);
            slots[s] = NULL;
            continue;
        }
        size_t size = (x >> 16) % 3000 + 1;
        unsigned char *p = (x & 1) ? malloc(size) : calloc(1, size);
        if (!p) { bad++; continue; }
        if (!(x & 1) && (p[0] != 0 || p[size - 1] != 0)) bad++;
        memset(p, mark, size);
        slots[s] = p;
        sizes[s] = size;
    }
    for (int s = 0; s < SLOTS; s++) free(slots[s]);
    return (void *)bad;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: stress THREADS OPS FORKS\n"); return 2; }
    int nthreads = atoi(argv[1]);
    ops_per_thread = atol(argv[2]);
    int forks = atoi(argv[3]);
    pthread_t threads[64];
    if (nthreads > 64) nthreads = 64;
    for (long i = 0; i < nthreads; i++) pthread_create(&threads[i], NULL, churn, (void *)i);
    int children_ok = 0;
    for (int c = 0; c < forks; c++) {
        pid_t pid = fork();
        if (pid == 0) {
            /* The child: the allocator must work (no lock was left held). */
            long saved = ops_per_thread;
            ops_per_thread = 2000;
            char *p = malloc(1000);
            char *q = strdup("child");
            pthread_t t;
            int ok = p && q && pthread_create(&t, NULL, churn, (void *)99L) == 0;
            void *bad = (void *)1;
            if (ok) pthread_join(t, &bad);
            free(p);
            free(q);
            ops_per_thread = saved;
            _exit(ok && bad == 0 ? 0 : 1);
        }
        int status = 0;
        if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
            WEXITSTATUS(status) == 0)
            children_ok++;
    }
    long bad_total = 0;
    for (int i = 0; i < nthreads; i++) {
        void *bad;
        pthread_join(threads[i], &bad);
        bad_total += (long)bad;
    }
    printf("threads %d x %ld ops, bad blocks: %ld; children ok: %d of %d\n", nthreads,
           ops_per_thread, bad_total, children_ok, forks);
    return children_ok == forks && bad_total == 0 ? 0 : 1;
}
