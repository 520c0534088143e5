"""What a release may change in how stored persons are written, and how identity tells that a store needs the command
that brings them up to date: at start, a warning and a gauge at 1, checked again until the command has run."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.identity.domain.identifiers import IDENTIFIER_FORM_VERSION
from services.identity.domain.matching import BLOCKING_KEYS_VERSION
from services.identity.ports import IdentityStore


@dataclass(frozen=True)
class StoredForm:
    """One way stored persons are written, in versions: the current one, the one the store records its persons are
    written in, and what an operator is told while they may not be."""

    # The gauge's name part (`parterre_identity_<name>_outdated`).
    name: str
    current: int
    recorded: Callable[[IdentityStore], Awaitable[int | None]]
    record: Callable[[IdentityStore, int], Awaitable[None]]
    # Logged at start while outdated, and once up to date again.
    warning: str
    done: str

    async def record_current(self, store: IdentityStore) -> None:
        """Records that every stored person is written in the current version: its command ran over them all."""
        await self.record(store, self.current)


BLOCK_FILING = StoredForm(
    name="blocks",
    current=BLOCKING_KEYS_VERSION,
    recorded=lambda store: store.blocks_filed_under(),
    record=lambda store, version: store.record_blocks_filed_under(version),
    warning=(
        f"persons stored before the blocking keys changed (now version {BLOCKING_KEYS_VERSION}) are filed under "
        "older keys only: records of theirs may make new persons instead of finding them. Run `parterre identity "
        "refile-blocks` (identity may keep running meanwhile)."
    ),
    done="every stored person is filed under the current blocking keys",
)

ADDRESS_FORM = StoredForm(
    name="identifiers",
    current=IDENTIFIER_FORM_VERSION,
    recorded=lambda store: store.identifiers_written_under(),
    record=lambda store, version: store.record_identifiers_written_under(version),
    warning=(
        "persons stored by a release before 2026-12 may hold addresses written as that release wrote them (a domain "
        "in the DNS's `xn--` form): a fact naming such an address accented would make a new person instead of finding "
        "them. Run `parterre identity rekey-identifiers` once (identity may keep running meanwhile)."
    ),
    done="every stored person's addresses are claimed as written today",
)

STORED_FORMS = (BLOCK_FILING, ADDRESS_FORM)


async def outdated(store: IdentityStore, form: StoredForm) -> bool:
    """Whether stored persons may be written in an older version of `form`: the store records no run of its command
    under the current one, and holds persons. A store holding none records that it is up to date, since every person
    it will hold is written in the current form as it is resolved."""
    recorded = await form.recorded(store)
    if recorded is not None and recorded >= form.current:
        return False
    if await anext(aiter(store.active_persons(None)), None) is not None:
        return True
    await form.record_current(store)
    return False
