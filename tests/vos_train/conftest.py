import pytest


@pytest.fixture(scope="session")
def mini_davis():
    """DAVIS folder of the small "test" MVK-mini preset (generated once, cached)."""
    from mvk_tutorial.mvk.synthetic import ensure_mvk_mini

    return ensure_mvk_mini("test") / "DAVIS"
