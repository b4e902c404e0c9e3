/* sgoperator: the grid operator's full node; its identity must be the
 * genesis operator key (market clearing arrives with the market issue). */
#include "common/daemon/daemon.h"

int main(int argc, char **argv)
{
    return daemon_main(argc, argv, ROLE_OPERATOR);
}
