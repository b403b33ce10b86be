"""The license state machine, pure: a controlled clock, no Flask, no database."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from webapp import product_key
from webapp.environment import license_rules as sm
from webapp.environment.notices import license_banners

T0 = datetime(2026, 11, 1, 9, 0, 0, tzinfo=timezone.utc)
INSTALL = "f0d3d4e6bf28c50c4c73dc77de53a6b9"
OTHER_INSTALL = "0123456789abcdef0123456789abcdef"
PRODUCT = "AutoMQ for Kafka ( BYOC Monthly Subscription License )"
SIGNER = Ed25519PrivateKey.generate()
TRUSTED = {"k1": SIGNER.public_key()}


def key(*, seq=1, aku=40, issued=T0, days=30, not_before=None, expires=None, install=INSTALL, id=None,
        type="subscription") -> product_key.ProductKey:
    terms = product_key.License(
        id=id or str(uuid.uuid4()), seq=seq, type=type, channel="alibaba-marketplace",
        reference="****7Q2K", product=PRODUCT, aku=aku, issued_at=issued,
        not_before=not_before or issued, expires_at=expires or issued + timedelta(days=days),
    )
    return product_key.verify(product_key.sign(install, terms, "k1", SIGNER), TRUSTED)


def trial(now=T0, in_use=0, started=T0) -> sm.LicenseState:
    return sm.LicenseState(
        install_id=INSTALL,
        terms=sm.trial_terms(started, days=14, aku=14, product=PRODUCT),
        now=now, aku_in_use=in_use, expiring_days=7,
    )


def running(k: product_key.ProductKey, now, in_use=0) -> sm.LicenseState:
    return sm.LicenseState(install_id=INSTALL, terms=sm.terms_from_key(k.license, activated_at=T0),
                           now=now, aku_in_use=in_use, expiring_days=7)


# --- trial -------------------------------------------------------------------------------------

def test_trial_runs_14_days_and_14_aku_from_the_first_start():
    lic = trial()
    assert lic.status == "trial"
    assert lic.aku == 14 and lic.days_left == 14
    doc = lic.to_json()["license"]
    assert doc["type"] == "trial" and doc["channel"] == "built-in"
    assert doc["seq"] == 0 and doc["reference"] is None and doc["activatedAt"] is None
    assert doc["expiresAt"] == "2026-11-15T09:00:00Z" and doc["daysLeft"] == 14


def test_days_left_are_whole_days_rounded_down():
    assert trial(T0 + timedelta(hours=1)).days_left == 13
    assert trial(T0 + timedelta(days=13, hours=23, minutes=59)).days_left == 0
    assert trial(T0 + timedelta(days=20)).days_left == 0


@pytest.mark.parametrize("left, words", [
    (timedelta(days=14), "14 days"),                       # the first instant of a 14-day trial
    (timedelta(days=13, hours=23, minutes=59), "14 days"),  # and the rest of its first day
    (timedelta(days=13, seconds=1), "14 days"),
    (timedelta(days=13), "13 days"),
    (timedelta(days=1, seconds=1), "2 days"),
    (timedelta(days=1), "1 day"),
    (timedelta(hours=23, minutes=59, seconds=59), "less than a day"),
    (timedelta(seconds=1), "less than a day"),
    (timedelta(microseconds=1), "less than a day"),
    (timedelta(0), "none"),                                 # expired at the instant of expiry
    (-timedelta(days=3), "none"),
])
def test_time_left_for_people_counts_days_up_and_says_less_than_a_day(left, words):
    expires = T0 + timedelta(days=30)
    assert sm.time_left(expires, expires - left) == words


def test_the_pages_and_the_api_count_days_each_their_own_way():
    first_day = trial(T0 + timedelta(hours=5))
    assert (first_day.time_left, first_day.days_left) == ("14 days", 13)  # people: up; the API: down
    assert first_day.to_json()["license"]["daysLeft"] == 13
    last_hours = trial(T0 + timedelta(days=13, hours=20))
    assert (last_hours.time_left, last_hours.days_left) == ("less than a day", 0)


def test_a_fresh_trial_says_14_days_left_all_its_first_day():
    for hours in (0, 1, 12, 23):
        lic = trial(T0 + timedelta(hours=hours))
        [banner] = _banners(lic)
        assert banner.title == "Free trial: 14 days left.", hours


def _terms(aku=20, days=30, seq=1, type="subscription"):
    return sm.terms_from_key(key(seq=seq, aku=aku, days=days, type=type).license)


def test_change_summary_says_activation_renewal_and_specification_change():
    trial_terms = trial().terms
    first = _terms(aku=20, days=30)
    assert sm.change_summary(trial_terms, first) == (
        "Activated: 20 AKU until 2026-12-01 09:00 UTC (key sequence 1). "
        "You can create instances up to the licensed capacity.")
    # a specification change only: the same expiry, other AKU
    spec = _terms(aku=40, days=30, seq=2)
    assert sm.change_summary(first, spec) == "Updated to 40 AKU (was 20 AKU) until 2026-12-01 09:00 UTC, key sequence 2."
    # a renewal only
    renewed = _terms(aku=20, days=60, seq=2)
    assert sm.change_summary(first, renewed) == (
        "Renewed until 2026-12-31 09:00 UTC (was 2026-12-01 09:00 UTC), 20 AKU, key sequence 2.")
    # both
    both = _terms(aku=40, days=60, seq=2)
    assert sm.change_summary(first, both) == (
        "Renewed until 2026-12-31 09:00 UTC (was 2026-12-01 09:00 UTC) and updated to 40 AKU (was 20 AKU), "
        "key sequence 2.")
    # downgrades are said as plainly
    assert sm.change_summary(both, _terms(aku=10, days=60, seq=3)) == (
        "Updated to 10 AKU (was 40 AKU) until 2026-12-31 09:00 UTC, key sequence 3.")
    assert sm.change_summary(both, _terms(aku=40, days=30, seq=3)) == (
        "Now valid until 2026-12-01 09:00 UTC (was 2026-12-31 09:00 UTC), 40 AKU, key sequence 3.")
    assert sm.change_summary(both, _terms(aku=10, days=30, seq=3)) == (
        "Updated to 10 AKU (was 40 AKU), now valid until 2026-12-01 09:00 UTC (was 2026-12-31 09:00 UTC), "
        "key sequence 3.")
    # a new key with the same terms (another reference, a re-issue)
    assert sm.change_summary(first, _terms(aku=20, days=30, seq=2)) == (
        "Activated key sequence 2: still 20 AKU until 2026-12-01 09:00 UTC.")


def test_change_summary_after_a_trial_extension():
    extension = _terms(aku=14, days=30, type="trial-extension")
    assert sm.change_summary(trial().terms, extension).startswith("Activated: 14 AKU until 2026-12-01 09:00 UTC")
    assert sm.change_summary(extension, _terms(aku=14, days=45, seq=2, type="trial-extension")) == (
        "Trial extended until 2026-12-16 09:00 UTC (was 2026-12-01 09:00 UTC), 14 AKU, key sequence 2.")
    # buying after a trial extension is an activation, not a renewal
    assert sm.change_summary(extension, _terms(aku=40, days=60, seq=2)).startswith(
        "Activated: 40 AKU until 2026-12-31 09:00 UTC (key sequence 2).")


def test_trial_becomes_expiring_then_expired():
    assert trial(T0 + timedelta(days=6, hours=23)).status == "trial"
    assert trial(T0 + timedelta(days=7)).status == "expiring"  # 7 days left: within 7
    assert trial(T0 + timedelta(days=13)).status == "expiring"
    assert trial(T0 + timedelta(days=14)).status == "expired"  # expired wins at the instant of expiry
    assert trial(T0 + timedelta(days=14)).expired


def test_trial_extension_key_shows_as_trial():
    k = key(type="trial-extension", days=30)
    assert running(k, T0).status == "trial"
    assert running(key(), T0).status == "active"


# --- an applied key ----------------------------------------------------------------------------

def test_active_then_expiring_then_expired():
    k = key(days=30)
    assert running(k, T0 + timedelta(days=1)).status == "active"
    assert running(k, T0 + timedelta(days=23)).status == "expiring"
    assert running(k, T0 + timedelta(days=23)).days_left == 7
    assert running(k, T0 + timedelta(days=30)).status == "expired"
    assert running(k, T0 + timedelta(days=30)).days_left == 0


def test_expiring_days_is_configurable():
    k = key(days=30)
    lic = sm.LicenseState(install_id=INSTALL, terms=sm.terms_from_key(k.license), now=T0 + timedelta(days=10),
                          expiring_days=21)
    assert lic.status == "expiring"


# --- capacity ----------------------------------------------------------------------------------

def test_create_within_capacity_and_refused_beyond():
    lic = trial(in_use=10)
    lic.check_create(4)
    with pytest.raises(sm.InsufficientAku) as caught:
        lic.check_create(5)
    exc = caught.value
    assert exc.code == "insufficient_aku" and exc.http_status == 409
    assert exc.needed == 5 and exc.available == 4
    assert "only 4 of the 14 AKU licensed are free" in exc.message


def test_grow_counts_only_the_growth_and_shrinking_is_always_allowed():
    lic = trial(in_use=14)
    lic.check_resize(4, 4)
    lic.check_resize(4, 2)
    with pytest.raises(sm.InsufficientAku):
        lic.check_resize(4, 5)
    trial(in_use=10).check_resize(4, 8)


def test_expired_refuses_create_and_grow_but_not_shrink():
    lic = trial(T0 + timedelta(days=15), in_use=6)
    with pytest.raises(sm.LicenseExpired) as caught:
        lic.check_create(1)
    assert caught.value.code == "license_expired"
    assert "Running instances keep running" in caught.value.message
    with pytest.raises(sm.LicenseExpired):
        lic.check_resize(3, 4)
    lic.check_resize(3, 1)


def test_over_capacity_after_downgrade_refuses_growth_until_usage_fits():
    k = key(aku=10)
    lic = running(k, T0, in_use=12)
    assert lic.over_capacity and lic.aku_free == 0
    with pytest.raises(sm.InsufficientAku) as caught:
        lic.check_create(1)
    assert "more than the 10 AKU licensed" in caught.value.message
    lic.check_resize(6, 4)  # shrinking is fine
    with pytest.raises(sm.CapacityError):
        lic.check_resize(6, 7)


# --- clock rollback ----------------------------------------------------------------------------

def test_effective_now_never_runs_backwards():
    hw = T0 + timedelta(days=20)
    assert sm.effective_now(T0, hw) == hw
    assert sm.effective_now(hw + timedelta(seconds=5), hw) == hw + timedelta(seconds=5)
    assert sm.effective_now(T0, None) == T0


def test_clock_moved_back_never_revives_an_expired_license():
    seen = T0 + timedelta(days=31)  # the license (30 days) expired and the environment saw it
    clock_back = T0 + timedelta(days=5)
    lic = running(key(days=30), sm.effective_now(clock_back, seen))
    assert lic.status == "expired"
    assert sm.clock_moved_back(clock_back, seen)
    with pytest.raises(sm.LicenseExpired):
        lic.check_create(1)


def test_high_water_is_written_at_most_once_a_minute():
    assert sm.high_water_due(T0, None)
    assert not sm.high_water_due(T0 + timedelta(seconds=59), T0)
    assert sm.high_water_due(T0 + timedelta(seconds=60), T0)
    assert not sm.high_water_due(T0 - timedelta(days=1), T0)  # clock behind: nothing to write


def test_high_water_is_written_at_once_when_the_expiry_is_first_seen():
    expires = T0 + timedelta(seconds=30)
    assert sm.high_water_due(T0 + timedelta(seconds=40), T0, expires)  # 40 s after the last write
    assert not sm.high_water_due(T0 + timedelta(seconds=20), T0, expires)  # not expired yet
    assert not sm.high_water_due(T0 + timedelta(seconds=50), T0 + timedelta(seconds=40), expires)  # seen already
    assert not sm.high_water_due(T0 - timedelta(days=1), T0 + timedelta(seconds=40), expires)


# --- applying keys -----------------------------------------------------------------------------

def test_a_new_key_applies_over_the_trial():
    assert sm.check_key(key(seq=1), trial()) is False


def test_renewal_higher_seq_later_expiry_is_no_downgrade():
    old = key(seq=1, aku=40, days=30)
    new = key(seq=2, aku=40, issued=T0 + timedelta(days=25), days=30)
    now = T0 + timedelta(days=25)
    before = running(old, now, in_use=8)
    assert before.status == "expiring"
    p = sm.preview(new, before)
    assert not p.already_active and not p.downgrade and p.warnings() == []
    assert p.after.status == "active" and p.after.days_left == 30


def test_same_key_again_is_already_active():
    k = key(seq=3)
    assert sm.check_key(k, running(k, T0 + timedelta(days=1))) is True
    assert sm.preview(k, running(k, T0 + timedelta(days=1))).already_active


def test_older_key_and_same_seq_with_other_id_are_refused():
    current = running(key(seq=3), T0 + timedelta(hours=1))
    with pytest.raises(product_key.ProductKeyError) as caught:
        sm.check_key(key(seq=2), current)
    assert caught.value.code == "older_key"
    with pytest.raises(product_key.ProductKeyError) as caught:
        sm.check_key(key(seq=3), current)
    assert caught.value.code == "older_key"


def test_wrong_install_id_is_refused_naming_both():
    with pytest.raises(product_key.ProductKeyError) as caught:
        sm.check_key(key(install=OTHER_INSTALL), trial())
    assert caught.value.code == "wrong_install_id"
    assert OTHER_INSTALL in caught.value.message and INSTALL in caught.value.message


def test_expired_key_is_refused_even_with_the_clock_moved_back():
    k = key(issued=T0, days=10)
    seen = T0 + timedelta(days=11)
    lic = trial(sm.effective_now(T0 + timedelta(days=2), seen))
    with pytest.raises(product_key.ProductKeyError) as caught:
        sm.check_key(k, lic)
    assert caught.value.code == "key_expired"


def test_future_keys_are_refused():
    with pytest.raises(product_key.ProductKeyError) as caught:
        sm.check_key(key(issued=T0 + timedelta(minutes=10)), trial())
    assert caught.value.code == "clock_skew"
    with pytest.raises(product_key.ProductKeyError) as caught:
        sm.check_key(key(not_before=T0 + timedelta(days=2)), trial())
    assert caught.value.code == "not_yet_valid"


def test_downgrade_is_said_plainly():
    current = running(key(seq=1, aku=40, days=60), T0 + timedelta(days=1), in_use=30)
    p = sm.preview(key(seq=2, aku=20, issued=T0 + timedelta(days=1), days=30), current)
    assert p.downgrade and p.fewer_aku and p.earlier_expiry and p.over_capacity_after
    text = " ".join(p.warnings())
    assert "20 AKU instead of 40 AKU" in text
    assert "expires earlier" in text
    assert "30 AKU are in use now, more than the 20 AKU" in text


def test_describe_key_reads_only_well_typed_members():
    assert sm.describe_key({"license": {"id": "x", "seq": 4, "aku": True, "expiresAt": "nope"}}) == {"id": "x", "seq": 4}
    assert sm.describe_key("garbage") == {}


# --- banners (pure) ----------------------------------------------------------------------------

def _banners(lic, purchase="https://market.example/automq"):
    return license_banners(lic, purchase_url=purchase, settings_url="/settings", instances_url="/instances")


def test_trial_banner_is_info_with_days_left_and_purchase_link():
    [b] = _banners(trial(T0 + timedelta(days=2)))
    assert b.level == "info" and "12 days left" in b.title
    assert b.link_url == "https://market.example/automq"


def test_expiring_banner_says_renew_then_reactivate():
    [b] = _banners(running(key(days=30), T0 + timedelta(days=27)))
    assert b.level == "warning"
    assert "expires in 3 days: renew on the marketplace, then re-activate" in b.title


def test_expired_banner_is_danger_and_over_capacity_is_a_warning():
    found = _banners(running(key(aku=4, days=30), T0 + timedelta(days=31), in_use=6), purchase=None)
    assert [b.level for b in found] == ["danger", "warning"]
    assert "running instances keep running" in found[0].text
    assert found[0].link_url == "/settings"
    assert "6 AKU in use, more than the 4 AKU licensed" in found[1].title


def test_banners_send_people_to_buy_renew_and_get_help_where_configured():
    expiring = running(key(days=30), T0 + timedelta(days=27))
    both = license_banners(expiring, purchase_url="https://market.example/automq", support_url="https://help.example/",
                           vendor_name="AutoMQ HK Limited", settings_url="/settings", instances_url="/instances")
    [b] = both
    assert (b.link_url, b.link_text) == ("https://market.example/automq", "Renew on the marketplace")
    assert 'Questions? <a href="https://help.example/">Contact AutoMQ HK Limited</a>.' in str(b.text)
    assert "After renewing, apply the new product key: Settings, Update Product License." in b.text
    [b] = license_banners(expiring, purchase_url=None, support_url="https://help.example/", vendor_name="AutoMQ",
                          settings_url="/settings", instances_url="/instances")
    assert (b.link_url, b.link_text) == ("https://help.example/", "Contact AutoMQ") and "<a" not in b.text
    [b] = _banners(expiring, purchase=None)
    assert (b.link_url, b.link_text) == ("/settings", "Go to Settings")
    # the values in the help link are escaped
    [b] = license_banners(trial(), purchase_url="https://m.example/", support_url='https://h.example/"><script>',
                          vendor_name="<b>V</b>", settings_url="/settings", instances_url="/instances")
    assert "<script>" not in str(b.text) and "&lt;b&gt;V&lt;/b&gt;" in str(b.text)
    assert b.link_text == "Buy a license" and "Buy a license on the marketplace, then activate it" in b.text


def test_expired_and_expiring_banners_say_what_to_do():
    [b] = _banners(running(key(days=30), T0 + timedelta(days=31)))
    assert b.title == "The license expired on 2026-12-01 09:00 UTC."
    assert "Renew on the marketplace, then re-activate this environment with the new product key: Settings, Update Product License." in b.text
    [b] = _banners(trial(T0 + timedelta(days=15)))
    assert b.title == "The trial expired on 2026-11-15 09:00 UTC." and "Buy a license on the marketplace" in b.text
    [b] = _banners(trial(T0 + timedelta(days=13, hours=1)))
    assert b.title == "The trial expires in less than a day." and "running instances keep running" in b.text
    remembered = sm.LicenseState(install_id=INSTALL, terms=sm.terms_from_key(key(days=30).license),
                                 now=T0 + timedelta(days=29), authorization_code="****7Q2K")
    [b] = _banners(remembered)
    assert b.title == "The license expires in 1 day: renew on the marketplace, then re-activate."
    assert "(or Check for renewal)" in b.text
