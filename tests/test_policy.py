"""Tests for agentsim.policy: market access, investment rules and the adaptive counter."""

import numpy as np

from agentsim import policy

CODES = ["US", "CN", "EU"]


# --- access and investment rules ----------------------------------------------------------------


def test_access_matrix_hand_case():
    # Labs at home in US, CN, EU, CN; the US market is closed to CN labs and the CN market to US.
    access = policy.access_matrix(np.array([0, 1, 2, 1]), CODES, [("CN", "US"), ("US", "CN")])
    expected = np.array(
        [
            [True, False, True],  # US lab: not in CN
            [False, True, True],  # CN lab: not in US
            [True, True, True],  # EU lab: everywhere
            [False, True, True],  # CN lab
        ]
    )
    assert access.dtype == bool
    assert np.array_equal(access, expected)


def test_access_matrix_no_closures_is_all_open():
    access = policy.access_matrix(np.array([0, 2]), CODES, [])
    assert access.shape == (2, 3)
    assert access.all()


def test_access_matrix_closure_is_directional():
    access = policy.access_matrix(np.array([0, 1]), CODES, [("CN", "EU")])
    assert np.array_equal(access, np.array([[True, True, True], [True, True, False]]))


def test_allowed_investments_hand_case():
    # Investors at home in US and CN; labs in US, CN, EU; US investors may not fund CN labs.
    allowed = policy.allowed_investments(
        np.array([0, 1]), np.array([0, 1, 2]), CODES, [("US", "CN")]
    )
    assert np.array_equal(allowed, np.array([[True, False, True], [True, True, True]]))


def test_allowed_investments_several_bans():
    allowed = policy.allowed_investments(
        np.array([0, 0, 2]), np.array([1, 2, 1]), CODES, [("US", "CN"), ("EU", "CN"), ("US", "EU")]
    )
    assert allowed.shape == (3, 3)
    assert np.array_equal(
        allowed, np.array([[False, False, False], [False, False, False], [False, True, False]])
    )


def test_months_behind_update():
    assert policy.months_behind_update(3, True) == 4
    assert policy.months_behind_update(3, False) == 0
    assert policy.months_behind_update(0, True) == 1
