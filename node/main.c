/* sgnode: a prosumer or consumer full node (see common/daemon.h). */
#include "common/daemon/daemon.h"

int main(int argc, char **argv)
{
    return daemon_main(argc, argv, 0);
}
