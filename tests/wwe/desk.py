"""Driving the WWE stand-in as an agent does."""

from __future__ import annotations

from playwright.async_api import Page, expect

from ctibridge.sim.gws import GwsSimulator

from .conftest import DN


async def log_in(page: Page, gws: GwsSimulator, username: str = f"agent{DN}") -> None:
    await page.set_viewport_size({"width": 1000, "height": 640})
    await page.goto(f"{gws.base_url}/ui/wwe/")
    login = page.get_by_role("form", name="Agent login")
    await login.get_by_label("Username").fill(username)
    await login.get_by_label("Password").fill(gws.agents[username].password)
    await login.get_by_role("button", name="Log in").click()
    await expect(page.locator("#agent-dn")).to_have_text(gws.agents[username].dn)
