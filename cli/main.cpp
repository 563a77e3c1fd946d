#include "cli/app.h"

int main(int argc, char** argv) {
  return hubcache::cli::run_app(argc, argv);
}
