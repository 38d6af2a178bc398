"""Start-up leaves its long-lived objects out of the garbage collector's passes."""

import gc
from pathlib import Path

from app.main import create_app
from app.settings import Settings


async def test_the_app_freezes_what_start_up_made(tmp_path: Path):
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"))
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 0
    gc.unfreeze()
