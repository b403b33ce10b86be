"""Role `both` (the demo): online activation calls the vendor side in-process, on the demo codes."""
from __future__ import annotations


def test_redeem_a_demo_code_end_to_end(app, client, api_token):
    op = api_token("operator")
    response = client.post("/api/v1/environment/redeem", json={"authorizationCode": "DEMO-AKU20-READY-7K3Q"},
                           headers=op)
    assert response.status_code == 200, response.get_json()
    doc = response.get_json()
    assert doc["license"]["aku"] == 20 and doc["license"]["channel"] == "alibaba-marketplace"
    assert doc["authorizationCode"] == "****7K3Q" and doc["alreadyActive"] is False
    again = client.post("/api/v1/environment/renewal-check", headers=op).get_json()
    assert again["renewed"] is False and again["license"]["seq"] == doc["license"]["seq"]


def test_the_vendors_refusal_reaches_the_settings_page(client, auth):
    auth.login("operator")
    html = client.get("/settings").get_data(as_text=True)
    assert 'name="authorization_code"' in html  # online activation is offered in role both
    response = client.post("/settings/redeem", data={"authorization_code": "DEMO-DISCARD-3H7Z"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert 'data-error-code="code_discarded"' in response.get_data(as_text=True)
