"""The paper's §6 and App. B analyses of trained runs (no training of grid points here).

- :mod:`.generalization`: Table 3, a run's model evaluated on another task's split (and IMDB);
- :mod:`.representations`: Figure 4, t-SNE of the top block's [CLS] vectors and a linear probe;
- :mod:`.masks`: Figure 5, dissimilarity of trained masks across tasks and seeds;
- :mod:`.connectivity`: Figures 6 and 7, the line and a Bézier curve between finetuned and masked weights.

:mod:`.tables` builds their tables (pandas only) and :mod:`.plots` draws their figures; :mod:`.models` holds
what they share: the three models of one seed (pretrained with the seed's random
classifier, finetuned, masked) as parameter dictionaries over one network.
"""
