/*
 * chainstat - prints a daemon's best chain from a copy of its blocks.dat,
 * one "height time bits" line per block above genesis, for the integration
 * tests (the daemon keeps running: its store is locked, so the copy is
 * replayed through the same rules in a temporary directory; a torn tail
 * the copy caught mid-write is cut as on any restart).
 *
 *   chainstat --genesis FILE --data-dir DIR
 *
 * Exit status 0, or 2 for usage and setup errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/base/err.h"
#include "common/core/chain.h"
#include "common/core/params.h"

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    char buf[65536];
    size_t n;
    int rc = in && out ? 0 : -1;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    if (in && ferror(in))
        rc = -1;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        rc = -1;
    return rc;
}

int main(int argc, char **argv)
{
    const char *genesis = NULL, *data_dir = NULL;
    char tmp[] = "/tmp/chainstat.XXXXXX", src[4096], dst[4096];
    chain_params p;
    chain *c = NULL;
    chain_load_report rep;
    int bad_line = 0, status = 2;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--genesis") == 0) genesis = argv[i + 1];
        else if (strcmp(argv[i], "--data-dir") == 0) data_dir = argv[i + 1];
    }
    if (!genesis || !data_dir) {
        fprintf(stderr, "usage: chainstat --genesis FILE --data-dir DIR\n");
        return 2;
    }
    if (sodium_init() < 0 || params_load(genesis, &p, &bad_line) != 0) {
        fprintf(stderr, "chainstat: cannot load %s\n", genesis);
        return 2;
    }
    if (!mkdtemp(tmp)) {
        params_free(&p);
        return 2;
    }
    snprintf(src, sizeof src, "%s/blocks.dat", data_dir);
    snprintf(dst, sizeof dst, "%s/blocks.dat", tmp);
    chain_config cc = { .params = &p, .data_dir = tmp };
    if (copy_file(src, dst) != 0 || chain_open(&c, &cc, &rep) != 0) {
        fprintf(stderr, "chainstat: cannot read the chain in %s\n", data_dir);
        goto out;
    }
    for (uint32_t h = 1; h <= chain_tip(c)->height; h++) {
        const chain_entry *e = chain_at_height(c, h);
        printf("%u %u 0x%08x\n", h, e->header.time, e->header.bits);
    }
    status = 0;
out:
    if (c)
        chain_free(c);
    unlink(dst);
    rmdir(tmp);
    params_free(&p);
    return status;
}
