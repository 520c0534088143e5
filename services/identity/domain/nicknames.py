"""First names one person can go by (Robert, Bob) and look-alikes that are two people's (Louis, Louise)."""

from collections.abc import Mapping
from types import MappingProxyType

# Each group holds names one person can go by, folded as `normalise` folds them (`jean francois`, `helene`).
# Being equivalent is not transitive: Alex is short for Alexandre and for Alexandra, who are not one person,
# so two names are equivalent when one group holds both. A short form goes in a group only where Québec or
# English Canada really uses it: Guillaume is not Guy, and Sandra is a name of its own, not Alexandra's.
NICKNAME_GROUPS: tuple[frozenset[str], ...] = tuple(
    frozenset(group)
    for group in (
        # French, as said in Québec
        ("alexandre", "alex", "alexander"),
        ("alexandra", "alex", "alexa"),
        ("alexis", "alex"),
        ("caroline", "caro"),
        ("catherine", "katherine", "cathy", "kathy", "cath", "kate", "katie", "cathou"),
        ("christophe", "chris"),
        ("dominique", "dom"),
        ("dominic", "dominik", "dom"),
        ("emmanuel", "manu"),
        ("emmanuelle", "manu"),
        ("frederic", "frederick", "fred"),
        ("frederique", "fred"),
        ("gabriel", "gab", "gabe"),
        ("gabrielle", "gab", "gaby"),
        ("gregoire", "greg"),
        ("jean francois", "jf"),
        ("jean philippe", "jp"),
        ("jean pierre", "jp"),
        ("jean sebastien", "js"),
        ("joseph", "jos", "jo", "joe", "joey"),
        ("josee", "jo"),
        ("marguerite", "margot"),
        ("marie eve", "marie"),
        ("maxime", "max"),
        ("maximilien", "max"),
        ("nicolas", "nicholas", "nico", "nick", "nic"),
        ("olivier", "oli"),
        ("raphael", "raph"),
        ("sebastien", "sebastian", "seb"),
        ("stephane", "steph"),
        ("stephanie", "steph", "stef"),
        ("valerie", "val"),
        ("veronique", "vero"),
        ("elisabeth", "elizabeth", "liz", "lisa", "beth", "betty", "babette", "eliza"),
        # English
        ("robert", "bob", "rob", "robbie", "bobby"),
        ("william", "bill", "will", "billy", "willy", "liam"),
        ("richard", "rick", "rich", "ricky", "richie", "dick"),
        ("james", "jim", "jimmy", "jamie"),
        ("john", "jack", "johnny", "jon"),
        ("jonathan", "jon", "jonny"),
        ("michael", "mike", "mikey", "mick", "mickey"),
        ("christopher", "chris", "kit"),
        ("christian", "chris"),
        ("christine", "christina", "chris", "tina"),
        ("jennifer", "jen", "jenn", "jenny"),
        ("jessica", "jess", "jessie"),
        ("daniel", "dan", "danny", "dany"),
        ("margaret", "maggie", "meg", "peggy", "margot"),
        ("anne", "ann", "annie"),
        ("isabelle", "isabel", "isa"),
        ("matthew", "matt", "matty"),
        ("philip", "phillip", "philippe", "phil"),
        ("patrick", "pat"),
        ("patricia", "pat", "patty", "trish"),
        ("benjamin", "ben", "benji"),
        ("samuel", "sam", "sammy"),
        ("samantha", "sam"),
        ("thomas", "tom", "tommy"),
        ("anthony", "tony"),
        ("timothy", "tim"),
        ("andrew", "andy", "drew"),
        ("edward", "ed", "eddie", "ted"),
        ("theodore", "ted", "teddy", "theo"),
        ("charles", "charlie", "chuck"),
        ("charlotte", "charlie", "lottie"),
        ("albert", "al", "bert"),
        ("donald", "don", "donny"),
        ("ronald", "ron", "ronnie"),
        ("kenneth", "ken", "kenny"),
        ("steven", "stephen", "steve"),
        ("gregory", "greg"),
        ("jeffrey", "geoffrey", "jeff", "geoff"),
        ("joshua", "josh"),
        ("nathan", "nathaniel", "nate", "nat"),
        ("nathalie", "nat"),
        ("natalie", "nat"),
        ("victoria", "vicky", "tori"),
        ("victor", "vic"),
        ("vincent", "vince", "vinny"),
        ("zachary", "zach", "zack"),
        ("kimberly", "kim"),
        ("deborah", "debbie", "deb"),
        ("rebecca", "becky", "becca"),
        ("susan", "suzanne", "sue", "suzie", "suzy"),
        ("jacqueline", "jackie", "jacky"),
        ("pamela", "pam"),
        ("cynthia", "cindy"),
        ("judith", "judy"),
        ("abigail", "abby"),
        ("amanda", "mandy"),
        ("sandra", "sandy"),
        ("raymond", "ray"),
        ("douglas", "doug"),
        ("lawrence", "larry"),
        ("leonard", "len", "lenny", "leo"),
        ("gerald", "gerry", "jerry"),
        # Montréal's Italian and Arabic-speaking communities
        ("giuseppe", "joe", "pino", "peppe"),
        ("francesca", "franca"),
        ("mohamed", "mohammed", "muhammad", "mo"),
    )
)

# Masculine and feminine forms of one name: they look alike to a string metric (Jaro-Winkler of Louis and Louise
# is 0.97), yet in one household they are two people, often a couple or a parent and a child.
MASCULINE_AND_FEMININE: tuple[tuple[str, str], ...] = (
    ("adrien", "adrienne"),
    ("aime", "aimee"),
    ("alexandre", "alexandra"),
    ("alexis", "alexia"),
    ("andre", "andree"),
    ("antoine", "antoinette"),
    ("antonio", "antonia"),
    ("armand", "armande"),
    ("aurele", "aurelie"),
    ("bernard", "bernadette"),
    ("carl", "carla"),
    ("carl", "carole"),
    ("celestin", "celestine"),
    ("charles", "charlotte"),
    ("christian", "christiane"),
    ("christian", "christine"),
    ("claude", "claudette"),
    ("claude", "claudine"),
    ("clement", "clemence"),
    ("clement", "clementine"),
    ("daniel", "daniela"),
    ("daniel", "daniele"),
    ("daniel", "danielle"),
    ("denis", "denise"),
    ("desire", "desiree"),
    ("eloi", "eloise"),
    ("emile", "emilie"),
    ("emmanuel", "emmanuelle"),
    ("eric", "erica"),
    ("eugene", "eugenie"),
    ("fabien", "fabienne"),
    ("fernand", "fernande"),
    ("florent", "florence"),
    ("francis", "francine"),
    ("francois", "francoise"),
    ("frederic", "frederique"),
    ("gabriel", "gabriella"),
    ("gabriel", "gabrielle"),
    ("gaetan", "gaetane"),
    ("georges", "georgette"),
    ("gerald", "geraldine"),
    ("gerard", "gerardine"),
    ("germain", "germaine"),
    ("ghislain", "ghislaine"),
    ("gilbert", "gilberte"),
    ("guy", "guylaine"),
    ("henri", "henriette"),
    ("jacques", "jacqueline"),
    ("jasmin", "jasmine"),
    ("jean", "jeanne"),
    ("jean", "jeannine"),
    ("jocelyn", "jocelyne"),
    ("joel", "joelle"),
    ("jose", "josee"),
    ("joseph", "josephine"),
    ("jules", "julie"),
    ("julien", "julie"),
    ("julien", "julienne"),
    ("justin", "justine"),
    ("laurent", "laure"),
    ("laurent", "laurence"),
    ("leo", "lea"),
    ("leon", "leonie"),
    ("louis", "louise"),
    ("luc", "luce"),
    ("luc", "lucie"),
    ("lucien", "lucie"),
    ("lucien", "lucienne"),
    ("marcel", "marcelle"),
    ("mario", "maria"),
    ("mario", "marie"),
    ("martin", "martine"),
    ("mathieu", "mathilde"),
    ("maxime", "maxine"),
    ("michel", "michele"),
    ("michel", "micheline"),
    ("michel", "michelle"),
    ("nicolas", "nicole"),
    ("noel", "noelle"),
    ("normand", "normande"),
    ("olivier", "olivia"),
    ("pascal", "pascale"),
    ("patrice", "patricia"),
    ("patrick", "patricia"),
    ("paul", "paula"),
    ("paul", "paule"),
    ("paul", "pauline"),
    ("pierre", "pierrette"),
    ("raphael", "raphaelle"),
    ("raymond", "raymonde"),
    ("rejean", "rejeanne"),
    ("rene", "renee"),
    ("robert", "roberta"),
    ("robert", "roberte"),
    ("roland", "rolande"),
    ("samuel", "samuelle"),
    ("simon", "simone"),
    ("stephane", "stephanie"),
    ("sylvain", "sylvie"),
    ("valentin", "valentine"),
    ("victor", "victoria"),
    ("vivien", "vivienne"),
    ("yves", "yvette"),
    ("yvon", "yvonne"),
)


# Two names of one gender a string metric would take for one spelt two ways: a typo is one person, these are two.
LOOKALIKE_NAMES: tuple[tuple[str, str], ...] = (
    ("elie", "elise"),
    ("marc", "marcel"),
    ("martin", "marine"),
    ("mathieu", "mathis"),
)


def _groups_by_name() -> Mapping[str, frozenset[int]]:
    groups: dict[str, set[int]] = {}
    for index, group in enumerate(NICKNAME_GROUPS):
        for name in group:
            groups.setdefault(name, set()).add(index)
    return MappingProxyType({name: frozenset(indexes) for name, indexes in groups.items()})


_GROUPS_BY_NAME = _groups_by_name()
_TWO_NAMES = (*MASCULINE_AND_FEMININE, *LOOKALIKE_NAMES)
_OTHER_NAMES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        name: frozenset(other for pair in _TWO_NAMES if name in pair for other in pair if other != name)
        for name in {name for pair in _TWO_NAMES for name in pair}
    }
)


def are_nickname_equivalent(a: str, b: str) -> bool:
    """Whether one person can go by both folded first names: the same name, or two names of one nickname group."""
    if a == b:
        return True
    groups = _GROUPS_BY_NAME.get(a)
    return groups is not None and not groups.isdisjoint(_GROUPS_BY_NAME.get(b, ()))


def are_two_names(a: str, b: str) -> bool:
    """Whether the folded first names, alike, are two people's: the masculine and feminine forms of one name (Louis
    and Louise), or two names of one gender (Marc and Marcel)."""
    return b in _OTHER_NAMES.get(a, frozenset())
