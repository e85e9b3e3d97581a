# ruff: noqa: E501  (phrase tables: one product type per line reads better than wrapped tuples)
"""Hand-written phrase tables for listing styles: resale, mobile, filler and other languages.

No translation model is available offline, so product types, colours and a few connectives are
translated by hand for the main EU marketplace languages and Chinese (de, fr, es, it, nl, pl, cs,
zh). A translated listing keeps what sellers keep in every language: the brand and the printed
model code. Types are matched by the English phrase in the recall name, longest first.
"""

from __future__ import annotations

# fmt: off
LANGS = ('de', 'fr', 'es', 'it', 'nl', 'pl', 'cs', 'zh')

# English product type -> (de, fr, es, it, nl, pl, cs, zh)
TYPES: dict[str, tuple[str, ...]] = {
    'power bank': ('Powerbank', 'batterie externe', 'batería externa', 'power bank', 'powerbank', 'powerbank', 'powerbanka', '充电宝'),
    'portable charger': ('Powerbank', 'chargeur portable', 'cargador portátil', 'caricatore portatile', 'powerbank', 'ładowarka przenośna', 'přenosná nabíječka', '移动电源'),
    'charger': ('Ladegerät', 'chargeur', 'cargador', 'caricabatterie', 'oplader', 'ładowarka', 'nabíječka', '充电器'),
    'battery': ('Akku', 'batterie', 'batería', 'batteria', 'accu', 'akumulator', 'baterie', '电池'),
    'bike helmet': ('Fahrradhelm', 'casque de vélo', 'casco de bicicleta', 'casco bici', 'fietshelm', 'kask rowerowy', 'cyklistická helma', '自行车头盔'),
    'helmet': ('Helm', 'casque', 'casco', 'casco', 'helm', 'kask', 'helma', '头盔'),
    'hoverboard': ('Hoverboard', 'hoverboard', 'patinete eléctrico hoverboard', 'hoverboard', 'hoverboard', 'deskorolka elektryczna', 'hoverboard', '平衡车'),
    'scooter': ('Roller', 'trottinette', 'patinete', 'monopattino', 'step', 'hulajnoga', 'koloběžka', '滑板车'),
    'bike': ('Fahrrad', 'vélo', 'bicicleta', 'bicicletta', 'fiets', 'rower', 'kolo', '自行车'),
    'bicycle': ('Fahrrad', 'vélo', 'bicicleta', 'bicicletta', 'fiets', 'rower', 'kolo', '自行车'),
    'skateboard': ('Skateboard', 'skateboard', 'monopatín', 'skateboard', 'skateboard', 'deskorolka', 'skateboard', '滑板'),
    'heater': ('Heizlüfter', 'radiateur', 'calefactor', 'stufetta', 'kachel', 'grzejnik', 'ohřívač', '取暖器'),
    'teether': ('Beißring', 'anneau de dentition', 'mordedor', 'massaggiagengive', 'bijtring', 'gryzak', 'kousátko', '牙胶'),
    'pacifier': ('Schnuller', 'tétine', 'chupete', 'ciuccio', 'fopspeen', 'smoczek', 'dudlík', '安抚奶嘴'),
    'rattle': ('Rassel', 'hochet', 'sonajero', 'sonaglio', 'rammelaar', 'grzechotka', 'chrastítko', '摇铃'),
    'stroller': ('Kinderwagen', 'poussette', 'cochecito', 'passeggino', 'kinderwagen', 'wózek', 'kočárek', '婴儿推车'),
    'car seat': ('Autositz', 'siège auto', 'silla de coche', 'seggiolino auto', 'autostoel', 'fotelik samochodowy', 'autosedačka', '儿童安全座椅'),
    'high chair': ('Hochstuhl', 'chaise haute', 'trona', 'seggiolone', 'kinderstoel', 'krzesełko do karmienia', 'jídelní židlička', '儿童餐椅'),
    'crib': ('Babybett', 'lit bébé', 'cuna', 'culla', 'babybed', 'łóżeczko', 'postýlka', '婴儿床'),
    'bassinet': ('Stubenwagen', 'berceau', 'moisés', 'culla', 'wieg', 'kołyska', 'kolébka', '摇篮'),
    'lounger': ('Babynest', 'transat bébé', 'tumbona para bebé', 'sdraietta', 'babynestje', 'leżaczek', 'lehátko', '婴儿躺椅'),
    'bed rail': ('Bettgitter', 'barrière de lit', 'barandilla de cama', 'sponda letto', 'bedhekje', 'barierka do łóżka', 'zábrana na postel', '床护栏'),
    'trampoline': ('Trampolin', 'trampoline', 'cama elástica', 'trampolino', 'trampoline', 'trampolina', 'trampolína', '蹦床'),
    'doll': ('Puppe', 'poupée', 'muñeca', 'bambola', 'pop', 'lalka', 'panenka', '娃娃'),
    'plush': ('Plüschtier', 'peluche', 'peluche', 'peluche', 'knuffel', 'pluszak', 'plyšák', '毛绒玩具'),
    'stuffed': ('Kuscheltier', 'peluche', 'peluche', 'peluche', 'knuffel', 'maskotka', 'plyšák', '毛绒玩具'),
    'puzzle': ('Puzzle', 'puzzle', 'rompecabezas', 'puzzle', 'puzzel', 'puzzle', 'puzzle', '拼图'),
    'blocks': ('Bausteine', 'blocs', 'bloques', 'blocchi', 'blokken', 'klocki', 'kostky', '积木'),
    'stacking': ('Stapelspielzeug', 'jouet à empiler', 'juguete apilable', 'gioco impilabile', 'stapelspeelgoed', 'zabawka do układania', 'skládací hračka', '叠叠乐'),
    'beads': ('Perlen', 'perles', 'cuentas', 'perline', 'kralen', 'koraliki', 'korálky', '串珠'),
    'magnet': ('Magnete', 'aimants', 'imanes', 'magneti', 'magneten', 'magnesy', 'magnety', '磁铁'),
    'slime': ('Schleim', 'slime', 'slime', 'slime', 'slijm', 'glut', 'sliz', '史莱姆'),
    'bottle': ('Flasche', 'bouteille', 'botella', 'bottiglia', 'fles', 'butelka', 'láhev', '瓶'),
    'baby bottle': ('Babyflasche', 'biberon', 'biberón', 'biberon', 'zuigfles', 'butelka dla niemowląt', 'kojenecká láhev', '奶瓶'),
    'bath seat': ('Badesitz', 'siège de bain', 'asiento de baño', 'seggiolino da bagno', 'badzitje', 'krzesełko do kąpieli', 'koupací sedátko', '洗澡椅'),
    'swing': ('Babyschaukel', 'balancelle', 'columpio', 'altalena', 'schommel', 'huśtawka', 'houpačka', '秋千'),
    'walker': ('Lauflernhilfe', 'trotteur', 'andador', 'girello', 'loopstoel', 'chodzik', 'chodítko', '学步车'),
    'costume': ('Kostüm', 'déguisement', 'disfraz', 'costume', 'kostuum', 'kostium', 'kostým', '服装'),
    'lamp': ('Lampe', 'lampe', 'lámpara', 'lampada', 'lamp', 'lampa', 'lampa', '灯'),
    'light': ('Licht', 'lumière', 'luz', 'luce', 'lamp', 'lampka', 'světlo', '灯'),
    'toy': ('Spielzeug', 'jouet', 'juguete', 'giocattolo', 'speelgoed', 'zabawka', 'hračka', '玩具'),
    'game': ('Spiel', 'jeu', 'juego', 'gioco', 'spel', 'gra', 'hra', '游戏'),
    'book': ('Buch', 'livre', 'libro', 'libro', 'boek', 'książka', 'kniha', '书'),
    'jacket': ('Jacke', 'veste', 'chaqueta', 'giacca', 'jas', 'kurtka', 'bunda', '夹克'),
    'hoodie': ('Kapuzenpullover', 'sweat à capuche', 'sudadera', 'felpa', 'hoodie', 'bluza', 'mikina', '连帽衫'),
    'pajamas': ('Schlafanzug', 'pyjama', 'pijama', 'pigiama', 'pyjama', 'piżama', 'pyžamo', '睡衣'),
    'drawstring': ('Kordel', 'cordon', 'cordón', 'coulisse', 'koord', 'sznurek', 'šňůrka', '抽绳'),
    'dresser': ('Kommode', 'commode', 'cómoda', 'cassettiera', 'ladekast', 'komoda', 'komoda', '五斗柜'),
    'chest': ('Kommode', 'commode', 'cómoda', 'cassettiera', 'ladekast', 'komoda', 'komoda', '抽屉柜'),
    'cup': ('Becher', 'tasse', 'vaso', 'tazza', 'beker', 'kubek', 'hrnek', '杯子'),
    'jar': ('Behälter', 'boîte', 'termo', 'contenitore', 'beker', 'pojemnik', 'dóza', '焖烧罐'),
    'gun': ('Pistole', 'pistolet', 'pistola', 'pistola', 'pistool', 'pistolet', 'pistole', '枪'),
    'kite': ('Drachen', 'cerf-volant', 'cometa', 'aquilone', 'vlieger', 'latawiec', 'drak', '风筝'),
    'car': ('Auto', 'voiture', 'coche', 'macchina', 'auto', 'samochód', 'auto', '汽车'),
    'necklace': ('Halskette', 'collier', 'collar', 'collana', 'ketting', 'naszyjnik', 'náhrdelník', '项链'),
    'bracelet': ('Armband', 'bracelet', 'pulsera', 'braccialetto', 'armband', 'bransoletka', 'náramek', '手链'),
}

COLOURS: dict[str, tuple[str, ...]] = {
    'black': ('schwarz', 'noir', 'negro', 'nero', 'zwart', 'czarny', 'černá', '黑色'),
    'white': ('weiß', 'blanc', 'blanco', 'bianco', 'wit', 'biały', 'bílá', '白色'),
    'red': ('rot', 'rouge', 'rojo', 'rosso', 'rood', 'czerwony', 'červená', '红色'),
    'blue': ('blau', 'bleu', 'azul', 'blu', 'blauw', 'niebieski', 'modrá', '蓝色'),
    'green': ('grün', 'vert', 'verde', 'verde', 'groen', 'zielony', 'zelená', '绿色'),
    'pink': ('rosa', 'rose', 'rosa', 'rosa', 'roze', 'różowy', 'růžová', '粉色'),
    'purple': ('lila', 'violet', 'morado', 'viola', 'paars', 'fioletowy', 'fialová', '紫色'),
    'yellow': ('gelb', 'jaune', 'amarillo', 'giallo', 'geel', 'żółty', 'žlutá', '黄色'),
    'grey': ('grau', 'gris', 'gris', 'grigio', 'grijs', 'szary', 'šedá', '灰色'),
    'gray': ('grau', 'gris', 'gris', 'grigio', 'grijs', 'szary', 'šedá', '灰色'),
    'orange': ('orange', 'orange', 'naranja', 'arancione', 'oranje', 'pomarańczowy', 'oranžová', '橙色'),
    'gold': ('gold', 'doré', 'dorado', 'oro', 'goud', 'złoty', 'zlatá', '金色'),
    'silver': ('silber', 'argent', 'plateado', 'argento', 'zilver', 'srebrny', 'stříbrná', '银色'),
}

# Per language: (for children, new, used, model, "with")
WORDS: dict[str, tuple[str, str, str, str, str]] = {
    'de': ('für Kinder', 'neu', 'gebraucht', 'Modell', 'mit'),
    'fr': ('pour enfants', 'neuf', "d'occasion", 'modèle', 'avec'),
    'es': ('para niños', 'nuevo', 'usado', 'modelo', 'con'),
    'it': ('per bambini', 'nuovo', 'usato', 'modello', 'con'),
    'nl': ('voor kinderen', 'nieuw', 'gebruikt', 'model', 'met'),
    'pl': ('dla dzieci', 'nowy', 'używany', 'model', 'z'),
    'cs': ('pro děti', 'nový', 'použitý', 'model', 's'),
    'zh': ('儿童', '全新', '二手', '型号', '带'),
}
# fmt: on

RESALE = (
    "{t} - used, good condition",
    "{t}, {year}, pick up only",
    "Pre-owned {t}",
    "{t} works fine, moving sale",
    "{t} barely used",
    "Second hand {t} - collection only",
    "{t} (used) great condition",
    "USED {t} no box",
    "{t} - like new, smoke free home",
    "{t} w/ charger, {year}",
    "{t} outgrown, {price}",
    "Job lot: {t}",
)

FILLER = (
    "Gift for Boys Girls",
    "Birthday Christmas Gift",
    "for Kids Toddlers",
    "Ages 3+",
    "Age 3 4 5 6 Years Old",
    "Best Gift Idea",
    "Montessori Educational Toy",
    "2024 Upgraded",
    "Lightweight & Portable",
    "Easy to Use",
    "Fast Delivery",
    "UK Stock",
    "Brand New",
    "Premium Quality",
    "Safe Non-Toxic",
    "Indoor Outdoor",
    "Pack of 2",
    "2 Pack",
    "Set of 3",
    "for Baby Infant Newborn",
    "Perfect Gift",
    "Adjustable",
    "with Storage Bag",
    "Large",
    "Small",
    "One Size",
    "Multi-Colour",
    "Black",
    "Blue",
    "Pink",
    "Red",
)
