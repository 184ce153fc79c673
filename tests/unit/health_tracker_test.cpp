// Tests for health_tracker arrive with its implementation.
#include <catch2/catch.hpp>
