// Tests for route_table arrive with its implementation.
#include <catch2/catch.hpp>
