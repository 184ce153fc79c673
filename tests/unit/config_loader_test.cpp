// Tests for config_loader arrive with its implementation.
#include <catch2/catch.hpp>
