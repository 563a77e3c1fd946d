#include "cli/app.h"
#include "store/sqlite.h"

int main(int argc, char** argv) {
  hubcache::sql::configure_process();
  return hubcache::cli::run_app(argc, argv);
}
