"""The names, places and habits of Québec audiences that the synthetic audience generator draws from."""

from dataclasses import dataclass

# Names are listed most common first; the generator weights them by rank (a Zipf-like skew), so a few names are
# very common and distinct people often share a full name, as they do in Québec.


@dataclass(frozen=True)
class FirstName:
    name: str
    # The birth year around which the name was most given; None for names without a marked generation.
    peak_year: int | None = None


@dataclass(frozen=True)
class Origin:
    """A cultural background: which first names and surnames go together, and how often it occurs."""

    key: str
    weight: float
    female: tuple[FirstName, ...]
    male: tuple[FirstName, ...]
    surnames: tuple[str, ...]
    speaks_english: float


def _names(spec: str) -> tuple[FirstName, ...]:
    """`"Ginette 1948, Kim"` → names with their peak birth year, if any."""
    names = []
    for item in spec.split(","):
        parts = item.split()
        if parts[-1].isdigit():
            names.append(FirstName(" ".join(parts[:-1]), int(parts[-1])))
        else:
            names.append(FirstName(" ".join(parts)))
    return tuple(names)


def _surnames(spec: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name.strip() for name in spec.split(",") if name.strip()))


FRANCO_FEMALE = _names(
    "Nathalie 1971, Isabelle 1972, Julie 1976, Sylvie 1962, Manon 1965, Chantal 1965, Josée 1968, Geneviève 1980, "
    "Marie 1950, Mélanie 1979, Stéphanie 1983, Marie-Ève 1984, Catherine 1983, Émilie 1988, Valérie 1980, "
    "Véronique 1977, Annie 1976, Caroline 1976, Karine 1979, Sophie 1975, Audrey 1990, Camille 1996, Sarah 1995, "
    "Léa 2000, Chloé 2000, Johanne 1962, Line 1963, Lucie 1960, Céline 1958, Hélène 1955, Louise 1952, Diane 1955, "
    "Francine 1952, Nicole 1950, Lise 1950, Ginette 1948, Monique 1947, Suzanne 1955, Danielle 1958, Carole 1957, "
    "Jocelyne 1955, Micheline 1950, Denise 1948, Claudette 1945, Pierrette 1946, Gisèle 1947, Colette 1948, "
    "Andrée 1950, Guylaine 1967, France 1958, Marie-Claude 1972, Marie-Josée 1970, Anne-Marie 1974, "
    "Marie-Hélène 1978, Andrée-Anne 1985, Jessica 1988, Vanessa 1989, Maude 1990, Amélie 1986, Mélissa 1988, "
    "Noémie 1997, Laurence 1996, Rosalie 1999, Gabrielle 1996, Florence 2003, Zoé 2003, Béatrice 2003, Océane 1999, "
    "Justine 1997, Alexandra 1991, Frédérique 1997, Myriam 1988, Josiane 1986, Élise 1990, Élizabeth 1985, "
    "Marianne 1985, Kim 1985, Joanie 1990, Roxanne 1987, Alice 2003, Charlotte 2004, Juliette 2002, Emma 2004, "
    "Jeanne 2003, Mia 2006, Dominique 1968, Christine 1966, Martine 1964, Brigitte 1966"
)
FRANCO_MALE = _names(
    "Pierre 1950, Michel 1952, Sylvain 1966, Stéphane 1970, Martin 1970, Éric 1970, Patrick 1972, "
    "Sébastien 1976, Jean-François 1975, Mathieu 1982, Alexandre 1985, Maxime 1987, Nicolas 1980, "
    "Guillaume 1983, Simon 1983, Olivier 1992, Samuel 1995, Gabriel 1997, William 2000, Félix 1998, "
    "Antoine 1995, Thomas 1997, Jean 1948, André 1948, Claude 1950, Luc 1962, Marc 1962, Daniel 1960, Alain 1958, "
    "Denis 1957, Serge 1957, Yves 1955, Gilles 1946, Jacques 1945, Réjean 1950, Normand 1950, Gaétan 1951, "
    "Raymond 1944, Yvon 1947, Roger 1945, Robert 1948, Richard 1955, François 1968, Christian 1965, "
    "Benoît 1968, Mario 1965, Dany 1974, Jean-Philippe 1982, Frédéric 1978, Jonathan 1986, Kevin 1990, "
    "David 1980, Vincent 1983, Philippe 1980, Marc-André 1982, Jean-Sébastien 1978, Louis-Philippe 1988, "
    "Étienne 1990, Jérôme 1985, Hugo 1993, Xavier 1996, Charles 1995, Justin 1995, Émile 2001, Nathan 2002, "
    "Louis 2000, Zachary 2000, Benjamin 1997, Alexis 1995, Charles-Antoine 1996, Pier-Luc 1990, "
    "Raphaël 2003, Loïc 2000, Léo 2005, Jacob 2003, Francis 1980, Dominique 1965, Steve 1975"
)
ANGLO_FEMALE = _names(
    "Sarah 1983, Jennifer 1975, Jessica 1987, Emily 1992, Elizabeth 1970, Mary 1948, Margaret 1947, "
    "Susan 1957, Linda 1955, Karen 1962, Lisa 1968, Katherine 1978, Rebecca 1985, Megan 1990, Lauren 1990, "
    "Emma 2000, Olivia 2002, Hannah 1998, Rachel 1984, Amanda 1985, Heather 1975, Nancy 1955, Patricia 1950, "
    "Deborah 1958, Barbara 1950, Catherine 1975, Kimberly 1980, Alexandra 1990"
)
ANGLO_MALE = _names(
    "Michael 1970, David 1965, John 1950, James 1960, Robert 1950, William 1955, Christopher 1978, "
    "Daniel 1980, Matthew 1985, Andrew 1982, Ryan 1988, Kevin 1975, Brian 1968, Sean 1980, Patrick 1975, "
    "Jason 1978, Jonathan 1985, Richard 1955, Peter 1958, Paul 1960, Ethan 2000, Liam 2003, Noah 2003, "
    "Benjamin 1995, Steven 1970, Mark 1965, Thomas 1960, Joseph 1955, Anthony 1975, Alexander 1990"
)

FRANCO_SURNAMES = _surnames(
    "Tremblay, Gagnon, Roy, Côté, Bouchard, Gauthier, Morin, Lavoie, Fortin, Gagné, Ouellet, Pelletier, "
    "Bélanger, Lévesque, Bergeron, Leblanc, Paquette, Girard, Simard, Boucher, Caron, Beaulieu, Cloutier, "
    "Dubé, Poirier, Fournier, Lapointe, Leclerc, Lefebvre, Poulin, Thibault, St-Pierre, Nadeau, Martin, "
    "Landry, Martel, Bédard, Grenier, Lessard, Bernier, Richard, Michaud, Hébert, Desjardins, Couture, "
    "Turcotte, Lachance, Parent, Blais, Gosselin, Savard, Proulx, Beaudoin, Demers, Perron, Boudreau, "
    "Charbonneau, Mercier, Robert, Lemieux, Cyr, Vachon, Dion, Leduc, Dufour, Ménard, Tessier, Lacroix, "
    "Carrier, Plante, Rousseau, Gingras, Marcoux, Labelle, Arsenault, Ouellette, Harvey, Dumont, Lemay, "
    "Brassard, Lauzon, D'Amours, Vaillancourt, Deschênes, Thériault, Fontaine, Champagne, Laplante, Brunet, "
    "Guay, Bolduc, Audet, Boivin, Langlois, Vézina, Rioux, Lambert, Giroux, Marchand, Chabot, Jean, Bisson, "
    "Moreau, Lalonde, Lebel, Dupuis, Sirois, Lapierre, Larouche, Boisvert, Laflamme, Paré, Bourque, Drouin, "
    "Labbé, Huot, Rivard, Pépin, Grégoire, Lafleur, Beauchamp, Bérubé, Doyon, Houle, Lacasse, Trudel, "
    "Boulanger, Daigle, Picard, Mathieu, Gélinas, Lavallée, Veilleux, Létourneau, Breton, Laroche, Duchesne, "
    "Hamel, Racine, Dufresne, Guérin, Thibodeau, Lachapelle, Beaupré, Chartrand, Bilodeau, Tardif, Béland, "
    "Bastien, Langevin, Gervais, Collin, Villeneuve, Dumas, Rochon, Maltais, Goulet, Allard, Lavigne, "
    "Desrosiers, Deschamps, Desrochers, Desmarais, Deslauriers, Desbiens, Jacques, Chevalier, Fleury, Séguin, "
    "Provost, Brisson, Bouffard, Guimond, Tanguay, Dallaire, Paradis, Bérard, Pouliot, Legault, Laberge, "
    "Corriveau, Denis, Cormier, Gendron, Lepage, Bélisle, Sauvé, Hamelin, Leroux, Brochu, Beauregard, "
    "Gaudreault, Huard, Jacob, Brault, Perreault, Lemire, Blanchette, Théberge, Nolet, Morissette, Asselin, "
    "Boily, Fréchette, Lortie, Piché, Gilbert, Larose, Cadieux, Jolicoeur, Laurin, Boutin, Charest, Lagacé, "
    "Lacombe, Lamarche, Lamontagne, Roberge, Rouleau, Soucy, Vallée, Verreault, Viens, Voyer, Aubin, Auclair, "
    "Barbeau, Beaudry, Bertrand, Blanchet, Bourgeois, Brodeur, Charron, Choquette, Clément, Cousineau, "
    "Croteau, Daoust, Dubois, Duval, Forget, Fortier, Gaudet, Gauvin, Hudon, Labrecque, Lacoste, Lafrance, "
    "Lanctôt, Laporte, Larivière, Lebrun, Leclair, Lecours, Lemelin, Lussier, Malouin, Marquis, Massé, "
    "Meunier, Nault, Nantel, Paiement, Pageau, Patenaude, Pinard, Plourde, Poitras, Potvin, Prévost, Raymond, "
    "Renaud, Rivest, Sabourin, Sauvageau, Tétreault, Trottier, Vincent, Ouimet, St-Onge, St-Laurent, "
    "St-Germain, Ste-Marie, Beauchemin, Bissonnette, Chagnon, Chamberland, Desautels, Désilets, Gamache, "
    "Godin, Grondin, Hogue, Lajoie, Lalande, Larocque, Lépine, L'Heureux, Marcotte, Moisan, Morel, Nadon, "
    "Paquin, Pichette, Rancourt, Richer, Rodrigue, Turgeon, Vaillant, St-Amand, St-Arnaud, St-Hilaire, "
    "Lévêque, Francoeur, Bégin, Bourassa, Chénier, Aubé, Aubry, Audette, Authier, Baillargeon, Barrette, "
    "Bazinet, Beauchesne, Beaudet, Bellavance, Bellemare, Benoit, Bessette, Bibeau, Bigras, Blackburn, "
    "Boisclair, Boissonneault, Bonin, Bordeleau, Boudreault, Bourdages, Bourget, Bourgault, Boyer, Brien, "
    "Brisebois, Brosseau, Brousseau, Bruneau, Cantin, Caouette, Carbonneau, Casavant, Champoux, Chapdelaine, "
    "Charland, Charlebois, Chartier, Chassé, Chouinard, Cinq-Mars, Cossette, Coulombe, Courchesne, "
    "Courtemanche, Crête, Daigneault, Dagenais, Darveau, Daviault, Delisle, Deraspe, Desaulniers, Descôteaux, "
    "Desgagnés, Desharnais, Deslandes, Desnoyers, Desroches, Dessureault, Doiron, Dorion, Dostie, Doucet, "
    "Drapeau, Dubreuil, Ducharme, Duchaine, Dugas, Duguay, Duhamel, Dumais, Dupont, Duquette, Durand, Émond, "
    "Ferland, Filion, Filteau, Fiset, Frenette, Gaboury, Gagnier, Galarneau, Garneau, Gaudette, Genest, "
    "Germain, Gignac, Girardin, Giguère, Godbout, Goyette, Grandmaison, Gravel, Guérard, Guertin, Guillemette, "
    "Héroux, Houde, Imbeault, Jalbert, Joly, Jutras, Labonté, Labrie, Lacerte, Laferrière, Laframboise, "
    "Lagueux, Lalancette, Lamarre, Lampron, Landreville, Langelier, Lanoue, Lapalme, Laquerre, Larue, "
    "Latulippe, Laurendeau, Lauzier, Lavertu, Leblond, Lécuyer, Lemoine, Lesage, Loiselle, Longpré, Lord, "
    "Mailhot, Mainville, Major, Marceau, Marleau, Martineau, Mercure, Messier, Millette, Mongeau, Monette, "
    "Morneau, Normand, Pagé, Papineau, Paquet, Patry, Pellerin, Perrault, Pilon, Plamondon, Plouffe, Poissant, "
    "Poliquin, Poudrier, Préfontaine, Quintal, Rainville, Rathé, Riopel, Robichaud, Robillard, Rochette, "
    "Roussel, Rouillard, Roussin, Sarrazin, Sasseville, Simoneau, Surprenant, Taillon, Thivierge, Tousignant, "
    "Trépanier, Trudeau, Turmel, Vallières, Vanier, Veillette, Venne, Vermette, Vigneault, Villemaire"
)
ANGLO_SURNAMES = _surnames(
    "Smith, Brown, Wilson, Campbell, MacDonald, Stewart, Johnson, Murphy, O'Brien, Kelly, Ryan, O'Connor, "
    "Walsh, Thompson, Taylor, Anderson, Clarke, Robertson, Scott, Miller, Young, Reid, Morrison, Fraser, "
    "Graham, Hughes, Kennedy, McKenna, O'Neill, Sullivan, Burns, Gallagher, Davies, Evans, Mitchell, Cohen, "
    "Levy, Goldberg, Katz, Rosenberg, Shapiro, McGill, Ross, Harvey, Bell, Wright, Walker, Robinson, Wood, King, "
    "Hall, Green, Adams, Baker, Hill, Cooper, Ward, Turner, Parker, Collins, Morris, Cook, Murray, Bennett, Gray, "
    "Price, Cameron, Ferguson, Grant, Hamilton, Henderson, Johnston, Kerr, McLean, Sinclair, Watson, Boyle, Doyle, "
    "Flynn, Lynch, Quinn, Brennan, Byrne, Carroll, Daly, Dunne, Foley, Hogan, McCarthy, Nolan, Power, Shea, "
    "Weinstein, Greenberg, Friedman, Schwartz, Klein, Stein"
)

ORIGINS = (
    Origin("franco", 0.70, FRANCO_FEMALE, FRANCO_MALE, FRANCO_SURNAMES, speaks_english=0.05),
    Origin("anglo", 0.10, ANGLO_FEMALE, ANGLO_MALE, ANGLO_SURNAMES, speaks_english=0.9),
    Origin(
        "italian",
        0.03,
        _names(
            "Maria, Giulia, Francesca, Anna, Lucia, Sofia, Angela, Carmela, Rosa, Elena, Teresa, Antonella, "
            "Graziella, Laura, Silvana, Paola, Stefania, Nadia"
        ),
        _names(
            "Giuseppe, Antonio, Marco, Luca, Giovanni, Salvatore, Francesco, Roberto, Vincenzo, Paolo, Mario, "
            "Carmine, Domenico, Pasquale, Angelo, Frank"
        ),
        _surnames(
            "Rossi, Russo, Mancini, Ricci, Lombardi, Esposito, Romano, De Luca, Colombo, Marino, Greco, Bruno, "
            "Gallo, Conti, Costa, Caruso, Fontana, Morelli, D'Angelo, Di Iorio, Iacono, Di Lallo, Ferrari, Bianchi, "
            "Marchetti, Rinaldi, Barbieri, Cirillo, Di Stefano, Galli, Longo, Leone, Martinelli, Pagano, Santoro, "
            "Vitale, Rizzo, Lo Presti, Di Paola, Ciccone, Zampino"
        ),
        speaks_english=0.4,
    ),
    Origin(
        "haitian",
        0.03,
        _names(
            "Fabienne, Nadège, Guerline, Mirlande, Rose-Marie, Darline, Esther, Judith, Stéphanie, Myriam, "
            "Marie-Ange, Sandra, Roseline, Junie, Farah, Christelle, Vanessa"
        ),
        _names(
            "Jean-Robert, Jean-Claude, Wilson, Fritz, Frantz, Emmanuel, Ricardo, Jean-Marc, Pierre-Richard, Wesley, "
            "Jean-Pierre, Reginald, Ronald, Gary, Stanley, Evens, Peterson, Kervens"
        ),
        _surnames(
            "Jean-Baptiste, Joseph, Pierre, Louis, Charles, Étienne, Augustin, Désir, Dorval, Saint-Fleur, "
            "Jean-Louis, Célestin, Alexis, Toussaint, Philogène, Métellus, Pierre-Louis, Jean-Pierre, Baptiste, "
            "Noël, Lafortune, Michel, Sanon, Duverger, Fleurant, Vilsaint, Jean-Charles, Dieudonné, Bélizaire, "
            "Casséus, Cadet, Exantus, Lamour, Pierre-Paul"
        ),
        speaks_english=0.05,
    ),
    Origin(
        "arab",
        0.045,
        _names(
            "Fatima, Amina, Nour, Yasmine, Leila, Samira, Meriem, Salma, Rania, Lina, Sara, Imane, Hind, Zineb, "
            "Khadija, Houda, Nadia, Sabrina"
        ),
        _names(
            "Mohamed, Ahmed, Youssef, Karim, Rachid, Omar, Ali, Samir, Mehdi, Amine, Hassan, Hicham, Khalid, Nabil, "
            "Tarek, Walid, Bilal, Hamza, Adel, Fadi, Georges, Elie, Rami"
        ),
        _surnames(
            "Haddad, Khoury, Nassar, Saad, Hamdan, Benali, Bouzid, Mansour, Khalil, Aziz, Cherif, Amrani, "
            "Belkacem, Ben Salah, El Khatib, Saleh, Hachem, Bouchareb, Benjelloun, Alaoui, Bennani, Tazi, Chraibi, "
            "Idrissi, Berrada, Mekki, Zerrouki, Boudiaf, Hamidi, Kaddour, Saliba, Azar, Farah, Karam, Abboud, "
            "Daher, Fakhoury, Nader, Rizk, Sfeir"
        ),
        speaks_english=0.15,
    ),
    Origin(
        "west_african",
        0.015,
        _names(
            "Aminata, Fatoumata, Mariama, Awa, Kadiatou, Aïssatou, Binta, Oumou, Mariam, Khady, Ndeye, Safiatou, "
            "Hawa, Adama, Djeneba, Rokia"
        ),
        _names(
            "Mamadou, Ibrahima, Moussa, Abdoulaye, Ousmane, Boubacar, Cheikh, Souleymane, Amadou, Modou, Lamine, "
            "Seydou, Issa, Yacouba, Alassane, Oumar"
        ),
        _surnames(
            "Diallo, Traoré, Camara, Diop, Ndiaye, Sow, Ba, Coulibaly, Keita, Touré, Koné, Sylla, Bah, Barry, Cissé, "
            "Fall, Faye, Gueye, Kane, Mbaye, Ndoye, Seck, Sarr, Dembélé, Sangaré, Ouédraogo, Kaboré, Sawadogo, "
            "Zongo, Kouamé, Konaté, Doumbia"
        ),
        speaks_english=0.05,
    ),
    Origin(
        "vietnamese",
        0.015,
        _names("Linh, Thi, Mai, Lan, Huong, Thu, Ngoc, Anh, Thuy, Hoa, Trang, Phuong, Hanh, Nga, Yen, Diep"),
        _names("Minh, Tuan, Duc, Hung, Quang, Long, Nam, Thanh, Dung, Hai, Binh, Khanh, Son, Viet, Tien, Phuc"),
        # Nguyen is the name of about four Vietnamese people in ten, which the rank skew keeps.
        _surnames(
            "Nguyen, Tran, Le, Pham, Hoang, Phan, Vu, Dang, Bui, Do, Ngo, Huynh, Truong, Vo, Dinh, Ly, Duong, Lam, "
            "Mai, Trinh, Ha, Luu, Cao, Ta"
        ),
        speaks_english=0.3,
    ),
    Origin(
        "chinese",
        0.02,
        _names(
            "Mei, Li, Xin, Ying, Jing, Hui, Yan, Wei, Xiaoling, Yue, Ling, Qing, Fang, Min, Jiaying, Yun, Amy, Grace"
        ),
        _names("Wei, Jun, Hao, Lei, Ming, Jian, Tao, Yong, Zhiwei, Yi, Bo, Kai, Feng, Hong, Peng, Bin, Eric, Kevin"),
        _surnames(
            "Wong, Chen, Li, Zhang, Wang, Liu, Chan, Lee, Lam, Ho, Huang, Zhou, Yang, Lin, Wu, Xu, Sun, Ma, Zhu, Hu, "
            "Guo, He, Gao, Luo, Zheng, Liang, Tang, Cheung, Leung, Chow, Yip, Tse, Ng, Fung"
        ),
        speaks_english=0.6,
    ),
    Origin(
        "latin",
        0.02,
        _names(
            "Maria, Ana, Carolina, Daniela, Gabriela, Paula, Valentina, Andrea, Sofia, Camila, Natalia, Isabel, "
            "Lucia, Claudia, Veronica, Mariana"
        ),
        _names(
            "Carlos, Luis, Juan, Jorge, José, Diego, Andrés, Miguel, Alejandro, Fernando, Ricardo, Javier, Pablo, "
            "Sebastian, Felipe, Eduardo"
        ),
        _surnames(
            "Rodriguez, Garcia, Gonzalez, Martinez, Lopez, Hernandez, Perez, Sanchez, Ramirez, Torres, Flores, "
            "Rojas, Morales, Gomez, Diaz, Vargas, Castillo, Jimenez, Ruiz, Alvarez, Moreno, Mendoza, Ortiz, Guzman, "
            "Reyes, Cruz, Romero, Herrera, Medina, Aguilar, Vasquez, Castro, Suarez"
        ),
        speaks_english=0.2,
    ),
    Origin(
        "south_asian",
        0.01,
        _names(
            "Priya, Anjali, Neha, Simran, Fatima, Ayesha, Pooja, Sunita, Kavya, Deepa, Nisha, Ritu, Farzana, "
            "Nasreen, Meera, Harleen"
        ),
        _names(
            "Raj, Arjun, Amit, Rahul, Harpreet, Vikram, Imran, Sanjay, Sunil, Deepak, Manpreet, Gurpreet, Ravi, "
            "Suresh, Faisal, Tariq"
        ),
        _surnames(
            "Singh, Patel, Sharma, Kaur, Gupta, Khan, Ahmed, Rahman, Hossain, Shah, Kumar, Mehta, Joshi, Verma, "
            "Malhotra, Chowdhury, Islam, Hussain, Iqbal, Qureshi, Bhatt, Desai, Reddy, Nair, Pillai, Gill, Sandhu, "
            "Dhillon, Grewal, Sidhu"
        ),
        speaks_english=0.8,
    ),
    Origin(
        "greek_portuguese",
        0.015,
        _names(
            "Maria, Eleni, Sofia, Ana, Catarina, Joana, Georgia, Helena, Dimitra, Despina, Katerina, Isabel, Lurdes, "
            "Conceição, Sandra"
        ),
        _names(
            "Nikos, Georgios, Dimitri, João, Manuel, Paulo, Ricardo, Konstantinos, Yannis, Christos, Spiros, "
            "Panagiotis, António, José, Carlos, Fernando"
        ),
        _surnames(
            "Papadopoulos, Georgiou, Nikolaidis, Ferreira, Santos, Silva, Sousa, Pereira, Rodrigues, Medeiros, "
            "Pappas, Karagiannis, Dimitriou, Konstantinidis, Vlachos, Alexiou, Oliveira, Martins, Fernandes, "
            "Gonçalves, Carvalho, Almeida, Lopes, Correia, Moniz, Furtado, Tavares, Raposo, Cabral"
        ),
        speaks_english=0.4,
    ),
)

# Only short forms people really use in place of the given name, as they write it on a form.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "Robert": ("Bob",),
    "Catherine": ("Cathy",),
    "Katherine": ("Kate", "Kathy"),
    "Jean-François": ("JF",),
    "Jean-Philippe": ("JP",),
    "Alexandre": ("Alex",),
    "Alexandra": ("Alex",),
    "Alexander": ("Alex",),
    "Alexis": ("Alex",),
    "Elizabeth": ("Liz", "Beth"),
    "Stéphanie": ("Steph",),
    "Christopher": ("Chris",),
    "Christine": ("Chris",),
    "Michael": ("Mike",),
    "William": ("Will", "Bill"),
    "Jennifer": ("Jen", "Jenny"),
    "Patrick": ("Pat",),
    "Nicolas": ("Nico",),
    "Frédéric": ("Fred",),
    "Samuel": ("Sam",),
    "Gabriel": ("Gab",),
    "Maxime": ("Max",),
    "Benjamin": ("Ben",),
    "Daniel": ("Dan", "Danny"),
    "Valérie": ("Val",),
    "Véronique": ("Véro",),
    "Isabelle": ("Isa",),
    "Joseph": ("Joe",),
    "Thomas": ("Tom",),
    "Nathalie": ("Nat",),
    "Sébastien": ("Seb",),
    "Anthony": ("Tony",),
    "Philippe": ("Phil",),
    "Margaret": ("Maggie", "Peggy"),
    "Richard": ("Rick",),
    "James": ("Jim", "Jimmy"),
    "Matthew": ("Matt",),
    "Andrew": ("Andy", "Drew"),
    "Jessica": ("Jess",),
    "Susan": ("Sue",),
    "Gabrielle": ("Gaby",),
    "Dominique": ("Dom",),
    "Jonathan": ("Jon",),
    "Raymond": ("Ray",),
    "Zachary": ("Zack",),
    "Kimberly": ("Kim",),
    "Rebecca": ("Becky",),
    "Steven": ("Steve",),
    "Deborah": ("Debbie",),
    "Patricia": ("Pat", "Trish"),
    "Giuseppe": ("Joe", "Pino"),
    "Francesca": ("Franca",),
    "Mohamed": ("Mo",),
}


@dataclass(frozen=True)
class Street:
    name: str
    # "rue", "avenue", "boulevard", "chemin", "route", "montée", or "" for names that carry their own kind.
    kind: str
    directions: tuple[str, ...] = ()


@dataclass(frozen=True)
class City:
    name: str
    english_name: str
    weight: float
    fsas: tuple[str, ...]
    area_codes: tuple[str, ...]
    streets: tuple[Street, ...]
    speaks_english: float = 0.0


def _areas(spec: str) -> tuple[str, ...]:
    """ "H1A H1E" → the forward sortation areas (first three characters of postal codes) of one city."""
    return tuple(spec.split())


def _streets(*specs: tuple[str, str] | tuple[str, str, str]) -> tuple[Street, ...]:
    """("Sherbrooke", "rue", "EO") → a street with east and west sides; "NS" for north and south."""
    sides = {"E": "Est", "O": "Ouest", "N": "Nord", "S": "Sud"}
    return tuple(
        Street(spec[0], spec[1], tuple(sides[letter] for letter in spec[2]) if len(spec) == 3 else ()) for spec in specs
    )


CITIES = (
    City(
        "Montréal",
        "Montreal",
        0.40,
        _areas(
            "H1A H1E H1G H1H H1K H1L H1M H1N H1T H1V H1W H1X H1Y H1Z H2A H2B H2C H2E H2G H2H H2J H2K H2L H2M "
            "H2N H2P H2R H2S H2T H2V H2W H2X H3A H3C H3H H3J H3K H3S H3T H3W H4A H4B H4C H4E H4G H4H H4J H4L"
        ),
        ("514", "438"),
        _streets(
            ("Saint-Denis", "rue"),
            ("Saint-Laurent", "boulevard"),
            ("Mont-Royal", "avenue", "EO"),
            ("Sherbrooke", "rue", "EO"),
            ("René-Lévesque", "boulevard", "EO"),
            ("Papineau", "avenue"),
            ("De Lorimier", "avenue"),
            ("Rachel", "rue", "EO"),
            ("Laurier", "avenue", "EO"),
            ("Jean-Talon", "rue", "EO"),
            ("Beaubien", "rue", "EO"),
            ("Masson", "rue"),
            ("Ontario", "rue", "EO"),
            ("Notre-Dame", "rue", "EO"),
            ("Wellington", "rue"),
            ("Sainte-Catherine", "rue", "EO"),
            ("De Maisonneuve", "boulevard", "EO"),
            ("du Parc", "avenue"),
            ("de la Côte-des-Neiges", "chemin"),
            ("Décarie", "boulevard"),
            ("Monkland", "avenue"),
            ("Fleury", "rue", "EO"),
            ("Christophe-Colomb", "avenue"),
            ("Saint-Hubert", "rue"),
            ("de Bordeaux", "rue"),
            ("Fabre", "rue"),
            ("Marquette", "rue"),
            ("Boyer", "rue"),
            ("Clark", "rue"),
            ("Hochelaga", "rue"),
            ("Saint-Zotique", "rue", "EO"),
            ("Bélanger", "rue"),
            ("Villeray", "rue"),
            ("De Gaspé", "avenue"),
            ("Henri-Bourassa", "boulevard", "EO"),
            ("Gouin", "boulevard", "EO"),
            ("Pie-IX", "boulevard"),
            ("Lacordaire", "boulevard"),
            ("Verdun", "avenue"),
            ("de l'Église", "avenue"),
        ),
        speaks_english=0.2,
    ),
    City(
        "Québec",
        "Quebec City",
        0.17,
        _areas("G1K G1L G1M G1N G1P G1R G1S G1T G1V G1W G1X G1Y G2A G2B G2C G2E G2G G2J G2K G2L G3E"),
        ("418", "581"),
        _streets(
            ("Cartier", "avenue"),
            ("René-Lévesque", "boulevard", "EO"),
            ("Saint-Jean", "rue"),
            ("Grande Allée", "", "EO"),
            ("Charest", "boulevard", "EO"),
            ("Saint-Joseph", "rue", "EO"),
            ("Myrand", "avenue"),
            ("Maguire", "avenue"),
            ("Laurier", "boulevard"),
            ("Saint-Vallier", "rue", "EO"),
            ("Sainte-Foy", "chemin"),
            ("Belvédère", "avenue"),
            ("Holland", "avenue"),
            ("des Érables", "avenue"),
            ("Saint-Cyrille", "rue"),
            ("de l'Église", "route"),
            ("Père-Lelièvre", "boulevard"),
            ("Wilfrid-Hamel", "boulevard"),
            ("Henri-Bourassa", "boulevard"),
            ("Racine", "rue"),
            ("Chauveau", "avenue"),
            ("du Buisson", "rue"),
            ("Saint-Olivier", "rue"),
            ("Lavigerie", "rue"),
        ),
        speaks_english=0.03,
    ),
    City(
        "Laval",
        "Laval",
        0.07,
        _areas("H7E H7G H7H H7K H7L H7M H7N H7P H7R H7S H7T H7V H7W H7X"),
        ("450", "579"),
        _streets(
            ("des Laurentides", "boulevard"),
            ("Curé-Labelle", "boulevard"),
            ("Saint-Martin", "boulevard", "EO"),
            ("de la Concorde", "boulevard", "EO"),
            ("Lévesque", "boulevard", "EO"),
            ("Le Corbusier", "boulevard"),
            ("Sainte-Rose", "boulevard"),
            ("des Prairies", "boulevard"),
            ("Notre-Dame", "boulevard"),
            ("Principale", "rue"),
        ),
        speaks_english=0.15,
    ),
    City(
        "Longueuil",
        "Longueuil",
        0.06,
        _areas("J4H J4J J4K J4L J4M J4N"),
        ("450", "579"),
        _streets(
            ("Saint-Charles", "rue", "EO"),
            ("de Chambly", "chemin"),
            ("Taschereau", "boulevard"),
            ("Roland-Therrien", "boulevard"),
            ("Sainte-Foy", "boulevard"),
            ("Saint-Laurent", "rue", "EO"),
            ("Jacques-Cartier", "boulevard", "EO"),
            ("Curé-Poirier", "boulevard", "EO"),
        ),
        speaks_english=0.08,
    ),
    City(
        "Gatineau",
        "Gatineau",
        0.06,
        _areas("J8T J8V J8X J8Y J8Z J8L J8M J8P J8R J9A J9H J9J"),
        ("819", "873"),
        _streets(
            ("Saint-Joseph", "boulevard"),
            ("Maloney", "boulevard", "EO"),
            ("de l'Hôpital", "boulevard"),
            ("Principale", "rue"),
            ("d'Aylmer", "chemin"),
            ("Gréber", "boulevard"),
            ("Laurier", "rue"),
            ("Main", "rue"),
            ("Saint-Raymond", "boulevard"),
            ("de la Gappe", "boulevard"),
        ),
        speaks_english=0.15,
    ),
    City(
        "Sherbrooke",
        "Sherbrooke",
        0.05,
        _areas("J1E J1G J1H J1J J1K J1L J1M J1N J1R"),
        ("819", "873"),
        _streets(
            ("King", "rue", "EO"),
            ("Wellington", "rue", "NS"),
            ("de Portland", "boulevard"),
            ("Galt", "rue", "EO"),
            ("Belvédère", "rue", "NS"),
            ("Jacques-Cartier", "boulevard", "NS"),
            ("Bowen", "rue", "NS"),
            ("du Conseil", "rue"),
            ("Queen", "boulevard", "NS"),
        ),
        speaks_english=0.08,
    ),
    City(
        "Trois-Rivières",
        "Trois-Rivieres",
        0.04,
        _areas("G8T G8Y G8Z G9A G9B G9C"),
        ("819", "873"),
        _streets(
            ("des Forges", "rue"),
            ("des Forges", "boulevard"),
            ("Notre-Dame", "rue", "EO"),
            ("des Récollets", "boulevard"),
            ("Royale", "rue"),
            ("Laviolette", "rue"),
            ("des Chenaux", "boulevard"),
        ),
    ),
    City(
        "Lévis",
        "Levis",
        0.03,
        _areas("G6V G6W G6X G6Y G6Z G6J"),
        ("418", "581"),
        _streets(
            ("Alphonse-Desjardins", "boulevard"),
            ("Saint-Louis", "rue"),
            ("des Rivières", "route"),
            ("de la Rive-Sud", "boulevard"),
            ("Guillaume-Couture", "boulevard"),
        ),
    ),
    City(
        "Saguenay",
        "Saguenay",
        0.03,
        _areas("G7H G7J G7B G7S G7X"),
        ("418", "581"),
        _streets(
            ("Talbot", "boulevard"),
            ("Racine", "rue", "E"),
            ("Saint-Paul", "boulevard"),
            ("Price", "rue", "O"),
            ("du Saguenay", "boulevard", "EO"),
        ),
    ),
    City(
        "Terrebonne",
        "Terrebonne",
        0.02,
        _areas("J6W J6X J6Y J7M"),
        ("450", "579"),
        _streets(
            ("Masson", "montée"),
            ("des Seigneurs", "boulevard"),
            ("Gascon", "chemin"),
            ("Saint-Louis", "rue"),
            ("Moody", "boulevard"),
        ),
    ),
    City(
        "Saint-Jérôme",
        "Saint-Jerome",
        0.015,
        _areas("J7Y J7Z J5L"),
        ("450", "579"),
        _streets(
            ("Saint-Georges", "rue"),
            ("des Laurentides", "boulevard"),
            ("Labelle", "rue"),
            ("De Martigny", "rue", "EO"),
        ),
    ),
    City(
        "Rimouski",
        "Rimouski",
        0.01,
        _areas("G5L G5M G5N"),
        ("418", "581"),
        _streets(
            ("Saint-Germain", "rue", "EO"),
            ("René-Lepage", "boulevard", "EO"),
            ("de la Cathédrale", "avenue"),
            ("Jessop", "boulevard"),
        ),
    ),
    City(
        "Westmount",
        "Westmount",
        0.025,
        ("H3Y", "H3Z"),
        ("514", "438"),
        _streets(
            ("Sherbrooke", "rue", "O"),
            ("Victoria", "avenue"),
            ("Lansdowne", "avenue"),
            ("de la Côte-Saint-Antoine", "chemin"),
            ("Westmount", "avenue"),
            ("Grosvenor", "avenue"),
            ("Redfern", "avenue"),
        ),
        speaks_english=0.8,
    ),
    City(
        "Pointe-Claire",
        "Pointe-Claire",
        0.02,
        ("H9R", "H9S"),
        ("514", "438"),
        _streets(
            ("Lakeshore", "chemin"),
            ("des Sources", "boulevard"),
            ("Saint-Jean", "boulevard"),
            ("Cedar", "avenue"),
            ("Donegani", "avenue"),
        ),
        speaks_english=0.7,
    ),
    City(
        "Beaconsfield",
        "Beaconsfield",
        0.01,
        ("H9W",),
        ("514", "438"),
        _streets(("Beaconsfield", "boulevard"), ("Lakeshore", "chemin"), ("Elm", "avenue"), ("Woodland", "avenue")),
        speaks_english=0.75,
    ),
    City(
        "Hudson",
        "Hudson",
        0.006,
        ("J0P",),
        ("450", "579"),
        _streets(("Main", "chemin"), ("Cameron", "rue"), ("Bellevue", "rue")),
        speaks_english=0.7,
    ),
    City(
        "Shawville",
        "Shawville",
        0.003,
        ("J0X",),
        ("819", "873"),
        _streets(("Main", "rue"), ("Victoria", "rue"), ("Centre", "rue")),
        speaks_english=0.85,
    ),
)

# Postal codes' last three characters: a fixed set per forward sortation area, so neighbours share full codes.
URBAN_CODES_PER_FSA = 40
RURAL_CODES_PER_FSA = 4
POSTAL_LETTERS = "ABCEGHJKLMNPRSTVWXYZ"

PERSONAL_EMAIL_DOMAINS = (
    ("gmail.com", 0.36),
    ("hotmail.com", 0.13),
    ("videotron.ca", 0.10),
    ("outlook.com", 0.07),
    ("icloud.com", 0.05),
    ("yahoo.ca", 0.05),
    ("hotmail.ca", 0.04),
    ("sympatico.ca", 0.04),
    ("yahoo.com", 0.03),
    ("live.ca", 0.03),
    ("live.com", 0.02),
    ("bell.net", 0.02),
    ("globetrotter.net", 0.02),
    ("cgocable.ca", 0.01),
    ("me.com", 0.01),
    ("protonmail.com", 0.01),
)
FAMILY_EMAIL_DOMAINS = (("videotron.ca", 0.4), ("gmail.com", 0.3), ("hotmail.com", 0.15), ("sympatico.ca", 0.15))
WORK_EMAIL_DOMAINS = (
    "umontreal.ca",
    "ulaval.ca",
    "mcgill.ca",
    "uqam.ca",
    "usherbrooke.ca",
    "hydroquebec.com",
    "desjardins.com",
    "cgi.com",
    "bell.ca",
    "bnc.ca",
    "mcc.gouv.qc.ca",
    "radio-canada.ca",
    "telequebec.tv",
    "ville.quebec.qc.ca",
    "montreal.ca",
)
# Misspelt domains as people type them at a box office counter or on a phone keyboard.
DOMAIN_TYPOS = {
    "gmail.com": ("gmial.com", "gmai.com", "gmail.co", "gnail.com"),
    "hotmail.com": ("hotmial.com", "hotmail.co", "hotmal.com"),
    "videotron.ca": ("videotron.com", "videotrom.ca", "videtron.ca"),
    "outlook.com": ("outlok.com", "outloo.com"),
    "yahoo.ca": ("yahooo.ca", "yaho.ca"),
    "sympatico.ca": ("sympatico.com", "simpatico.ca"),
}
GMAIL_TAGS = ("billets", "culture", "spectacles", "infolettre", "dons", "tnm", "osm", "theatre")
