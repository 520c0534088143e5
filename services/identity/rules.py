"""The identifier policy and matching model a process of identity works with, read from the files its settings name.

Apart from the service's wiring, so that a command resolving a file (`parterre identity resolve`) starts without
Kafka's or the HTTP server's modules."""

from services.identity.domain.identifiers import load_identifier_policy
from services.identity.domain.match_settings import load_match_settings
from services.identity.handlers import IdentityRules
from services.identity.settings import IdentitySettings
from shared.bilingual import in_language
from shared.events import Language
from shared.yaml_models import read_config_file


def load_rules(settings: IdentitySettings) -> IdentityRules:
    """The identifier policy and matching model the settings name; a bad file stops the start with its line. Without
    a salt, the development salt: the caller warns (`development_salt_warning`), the service in its log, a command to
    the person at the terminal in their language."""
    policy_path, model_path = settings.policy_path(), settings.match_model_path()
    policy = load_identifier_policy(read_config_file(policy_path), file_name=str(policy_path))
    matching = load_match_settings(read_config_file(model_path), file_name=str(model_path))
    return IdentityRules(
        policy=policy,
        matching=matching,
        suppression_salt=settings.salt(),
        default_region=settings.identity_default_region,
    )


def development_salt_warning(settings: IdentitySettings, language: Language) -> str | None:
    """What to warn of when no suppression salt is set, in `language`; None when one is."""
    if settings.identity_suppression_salt:
        return None
    return in_language(
        language,
        en="PARTERRE_IDENTITY_SUPPRESSION_SALT is not set: using the development salt",
        fr="PARTERRE_IDENTITY_SUPPRESSION_SALT n'est pas défini : le sel de développement est utilisé",
    )
