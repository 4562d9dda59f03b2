"""Ground-penetrating radar (Zhurong RoPeR): the processing chain and radargrams."""
