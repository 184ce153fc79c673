// Tests for cost_ledger arrive with its implementation.
#include <catch2/catch.hpp>
