// Tests for usage_parser arrive with its implementation.
#include <catch2/catch.hpp>
