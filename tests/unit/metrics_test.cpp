// Tests for metrics arrive with its implementation.
#include <catch2/catch.hpp>
