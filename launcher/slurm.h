/*
 * slurm.h - placing a run's daemons on the nodes of a Slurm allocation
 * (--placement slurm, or any run started inside an allocation).
 *
 * The allocation is read from the environment Slurm gives a job:
 * SLURM_JOB_ID, SLURM_JOB_NODELIST (expanded with `scontrol show
 * hostnames`) and SLURM_JOB_CPUS_PER_NODE ("2(x3),1": the slots).  Each
 * node's address is its NodeAddr (`scontrol show node`) resolved here to
 * IPv4.  The result is an ordinary host_list (hosts.h) whose every entry
 * is remote, with a remote-shell template that starts one job step per
 * command:
 *
 *   srun --jobid=ID --nodes=1 --ntasks=1 --overlap --cpu-bind=none
 *        --kill-on-bad-exit=0 --quiet -w {host}
 *
 * so the rest of --hosts applies unchanged: the daemon is the step's task,
 * its stdin is srun's (for --stop-on-stdin-eof), and scancel, the end of
 * the allocation or srun's death ends the step and the daemon with it.
 * --overlap lets every daemon of a node share the node's CPUs (without it
 * a step holds its CPUs and the next one waits); --cpu-bind=none keeps
 * task/affinity from pinning every daemon of a node to the same CPU.
 *
 * Strings from the environment are only read; the host_list is the
 * caller's (hosts_free).
 */
#ifndef LAUNCHER_SLURM_H
#define LAUNCHER_SLURM_H

#include <stddef.h>
#include <stdint.h>

#include "hosts.h"

#define SLURM_TMPL_MAX 256

/* What Slurm told the job, as read from its environment (NULL: unset). */
typedef struct {
    const char *job_id;              /* SLURM_JOB_ID */
    const char *nodelist;            /* SLURM_JOB_NODELIST */
    const char *cpus_per_node;       /* SLURM_JOB_CPUS_PER_NODE */
} slurm_env;

/* Fills e from the process environment. */
void slurm_env_get(slurm_env *e);

/* Whether a run goes through Slurm: placement "slurm", or no placement
 * given (NULL), no --hosts file and a job id in the environment. */
int slurm_wanted(const char *placement, const char *hosts_file, const slurm_env *e);

/* Expands SLURM_JOB_CPUS_PER_NODE ("2(x3),1") into out[0..n): exactly n
 * counts, each from 1 to HOSTS_SLOTS_MAX.  SG_EINVAL otherwise. */
int slurm_expand_cpus(const char *s, uint32_t *out, size_t n);

/* The host_list for the allocation in e and the template that starts a
 * step on one of its nodes (tmpl, of cap bytes).  Runs scontrol.  On
 * failure one line in err names the cause and the fix: not inside an
 * allocation, srun or scontrol missing, a node without a usable
 * address. */
int slurm_hosts(const slurm_env *e, host_list *hl, char *tmpl, size_t cap, char *err,
                size_t errcap);

/* Starts one step on h through tmpl that checks bins[0..nb) are there.  0,
 * or SG_EIO (the step did not start; err has srun's words) / SG_ENOTFOUND
 * (a binary is missing there), err naming the node. */
int slurm_check(const char *tmpl, const host_entry *h, const char *const *bins, size_t nb,
                char *err, size_t errcap);

/* 1 while job_id is pending or running, 0 once it has ended (or is
 * unknown to slurmctld), SG_EIO when scontrol does not answer. */
int slurm_job_running(const char *job_id);

#endif
