import logging

from vegdask.pipeline._quiet import drop_unclosed_session_notes


def test_unclosed_session_notes_are_dropped_and_other_asyncio_errors_kept(caplog):
    drop_unclosed_session_notes()
    drop_unclosed_session_notes()  # once only
    logger = logging.getLogger("asyncio")
    assert len(logger.filters) == 1
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        logger.error("Unclosed client session\nclient_session: <aiohttp.ClientSession>")
        logger.error("Unclosed connector\nconnections: []")
        logger.error("Task exception was never retrieved")
    assert [r.getMessage() for r in caplog.records] == ["Task exception was never retrieved"]
